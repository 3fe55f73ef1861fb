"""The worker's live view of the policy topic: a background consumer applies every change;
the pipeline takes an immutable snapshot per batch, so a change (a revocation included)
applies to every batch that starts after it arrived.

An invalid record removes the subscription it names (fail safe: deliver less, never more).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable

from confluent_kafka import Consumer, TopicPartition

from govbus.kafka_config import client_config
from govbus.policy import PolicyDocument, validate
from govbus.policy_store import Entry, decode, document
from govbus.schemas.catalogue import Catalogue

log = logging.getLogger(__name__)


class PolicyTable:
    def __init__(
        self,
        bootstrap: str,
        topic: str,
        catalogue: Catalogue,
        on_new_subscriber: Callable[[str], None],
    ) -> None:
        self.topic = topic
        self.catalogue = catalogue
        self.on_new_subscriber = on_new_subscriber
        self._subs: dict[str, Entry] = {}
        self._snapshot = PolicyDocument()
        self._known_subscribers: set[str] = set()
        self._dirty = False  # applied changes not yet in the snapshot
        self._stop = threading.Event()
        self.changes = 0
        self._consumer = Consumer(
            {
                **client_config(bootstrap),
                "group.id": f"govbus-policy-{uuid.uuid4()}",
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
                "auto.offset.reset": "earliest",
                "fetch.wait.max.ms": 100,
            }
        )
        self._thread = threading.Thread(target=self._run, name="govbus-policy", daemon=True)

    def start(self, timeout_s: float = 30.0) -> None:
        """Read the topic to its current end, then follow it in the background."""
        meta = self._consumer.list_topics(self.topic, timeout=10).topics[self.topic]
        parts = [TopicPartition(self.topic, p, 0) for p in meta.partitions]
        ends = {
            tp.partition: self._consumer.get_watermark_offsets(tp, timeout=10)[1] for tp in parts
        }
        self._consumer.assign(parts)
        deadline = time.monotonic() + timeout_s
        idle = 0
        while True:
            msgs = self._poll_and_apply()
            positions = self._consumer.position([TopicPartition(self.topic, p) for p in ends])
            at = {pos.partition: pos.offset for pos in positions}
            if all(at[p] >= end or end == 0 for p, end in ends.items()):
                break
            idle = 0 if msgs else idle + 1
            if idle >= 3 and all(at[p] >= end - 1 for p, end in ends.items()):
                break  # a transaction marker can sit at the end with no record
            if time.monotonic() > deadline:
                raise TimeoutError(f"policy topic {self.topic} not read within {timeout_s}s")
        self._publish()
        self._thread.start()

    def snapshot(self) -> PolicyDocument:
        return self._snapshot

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._consumer.close()

    def _poll_and_apply(self) -> int:
        msgs = self._consumer.consume(500, 0.1)
        for msg in msgs:
            if msg.error() is None:
                self._dirty |= self._apply(msg.key() or b"", msg.value())
        if self._dirty:
            self._publish()
        return len(msgs)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._poll_and_apply()
            except Exception:
                log.exception("policy consumer failed; retrying")
                time.sleep(1)

    def _apply(self, key: bytes, value: bytes | None) -> bool:
        try:
            sub_id, sub = decode(key, value)
        except ValueError as exc:
            log.error(
                "invalid policy record: subscription removed",
                extra={"subscription": key.decode(errors="replace"), "error": str(exc)},
            )
            return self._subs.pop(key.decode(errors="replace"), None) is not None
        if sub is None:
            return self._subs.pop(sub_id, None) is not None
        problems = validate(document([sub]), self.catalogue)
        if problems:
            log.error(
                "policy record refused: subscription removed",
                extra={"subscription": sub_id, "problems": problems},
            )
            return self._subs.pop(sub_id, None) is not None
        self._subs[sub_id] = sub
        return True

    def _publish(self) -> None:
        snapshot = document(self._subs.values())
        for subscriber in sorted(
            {s.subscriber for s in snapshot.subscriptions} - self._known_subscribers
        ):
            self.on_new_subscriber(subscriber)  # its delivery topic exists before routing
            self._known_subscribers.add(subscriber)
        self._snapshot = snapshot
        self._dirty = False
        self.changes += 1
        log.info("policy updated", extra={"subscriptions": len(self._subs), "at": time.time()})

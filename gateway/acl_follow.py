"""Kafka ACLs that follow the policy within seconds, as the stream workers do: a revoked or
expired subscription takes its department's Kafka-native read access with it, without
anybody running ``govbus acl sync``.

The follower reads the whole policy topic once, syncs, then follows the topic from where
that read began (records read twice are applied twice: the latest per key wins either way)
and syncs again after every batch of policy records -- and at least every ``resync_s``,
because an expiry passes without a record. A sync never runs on a partly read policy, which
would revoke every department not read yet."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import uuid
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from govbus import policy_store
from govbus.gateway.kafka_acl import SyncReport, sync
from govbus.heartbeat import beat
from govbus.kafka_config import client_config
from govbus.schemas.catalogue import Catalogue

log = logging.getLogger("govbus.acl")


class AclFollower:
    def __init__(
        self,
        bootstrap: str,
        policy_topic: str,
        admin: AdminClient,
        catalogue: Catalogue,
        *,
        resync_s: float = 30.0,
    ) -> None:
        self.bootstrap = bootstrap
        self.topic = policy_topic
        self.admin = admin
        self.catalogue = catalogue
        self.resync_s = resync_s
        self.stop = threading.Event()
        self._current: dict[str, policy_store.Entry] = {}
        self._synced_at = 0.0
        self._consumer = Consumer(
            client_config(
                bootstrap,
                **{
                    "group.id": f"govbus-acl-{uuid.uuid4().hex[:8]}",
                    "enable.auto.commit": False,
                    "isolation.level": "read_committed",
                    "log_level": 3,
                },
            )
        )

    def start(self) -> SyncReport:
        """Read the policy as it is, sync, and follow the topic from there on."""
        policy_store.ensure_policy_topics(self.bootstrap, self.topic, [])
        meta = self._consumer.list_topics(self.topic, timeout=10).topics[self.topic]
        follow_from = [
            TopicPartition(
                self.topic,
                p,
                self._consumer.get_watermark_offsets(TopicPartition(self.topic, p), timeout=10)[1],
            )
            for p in meta.partitions
        ]
        doc = policy_store.read(self.bootstrap, self.topic)
        self._current = {policy_store.entry_key(e): e for e in policy_store.entries(doc)}
        self._consumer.assign(follow_from)
        return self._sync()

    def step(self, timeout_s: float = 0.5) -> SyncReport | None:
        """Apply the policy records that arrived; sync if any did or a resync is due."""
        changed = False
        for msg in self._consumer.consume(500, timeout_s):
            if msg.error() is not None:
                continue
            try:
                key, entry = policy_store.decode(msg.key() or b"", msg.value())
            except ValueError:
                continue  # the workers skip an invalid record too
            if entry is None:
                self._current.pop(key, None)
            else:
                self._current[key] = entry
            changed = True
        if changed or time.monotonic() - self._synced_at >= self.resync_s:
            return self._sync()
        return None

    def _sync(self) -> SyncReport:
        doc = policy_store.document(self._current.values())
        report = sync(self.admin, doc, self.catalogue, dt.datetime.now(dt.UTC))
        self._synced_at = time.monotonic()
        if report.revoked:
            log.info("kafka access revoked", extra={"departments": report.revoked})
        return report

    def run(self, heartbeat: Path | None = None) -> None:
        """Until stopped; ``heartbeat`` is touched after every step (liveness probe)."""
        self.start()
        while not self.stop.is_set():
            self.step()
            if heartbeat is not None:
                beat(heartbeat)

    def close(self) -> None:
        self._consumer.close()

"""The worker's input: the partitions of the tasks it owns, read with librdkafka.

No consumer-group offsets here: where to read from is the committed progress marker of each
partition, handed in when a task is taken over (so nothing a lost or paused worker did to the
group's offsets can skip or repeat an input). Faust's group decides who owns which task; the
events themselves are fetched and parsed in C, a batch at a time, because Faust's per-event
stream machinery costs more CPU than everything the bus does with an event.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, cast

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from govbus.kafka_config import client_config
from govbus.schemas.envelope import HeaderList as Headers
from govbus.streams.messages import InMessage
from govbus.streams.tasks import TP

log = logging.getLogger(__name__)
PREFETCH_KB = 256
BULK_PREFETCH_KB = 2048


def _at(tp: TP, offset: int) -> TopicPartition:
    return TopicPartition(tp[0], tp[1], offset if offset > 0 else OFFSET_BEGINNING)


class Feed:
    def __init__(
        self, bootstrap: str, group: str, prefetch_kb: int = PREFETCH_KB, **extra: Any
    ) -> None:
        self._consumer = Consumer(
            client_config(
                bootstrap,
                **{
                    # Required by librdkafka, never used: no subscribe, no commits.
                    "group.id": f"{group}.feed",
                    "enable.auto.commit": False,
                    "enable.auto.offset.store": False,
                    # An aborted transaction's events were never published.
                    "isolation.level": "read_committed",
                    "fetch.wait.max.ms": 5,
                    "fetch.min.bytes": 1,
                    # A small prefetch, fetched across all partitions in turn, so an event on a
                    # quiet topic waits behind a few hundred queued events of a busy one, not
                    # behind its backlog (librdkafka's defaults queue up to 64 MB: minutes of
                    # work). Bulk loads have a lane and a feed of their own, with a larger
                    # prefetch (tests/integration/test_fairness.py).
                    "queued.max.messages.kbytes": prefetch_kb,
                    "queued.min.messages": 100,
                    # When the queue is full, librdkafka waits this long before fetching that
                    # partition again (default 1 s: a second of latency for every event
                    # behind it, measured).
                    "fetch.queue.backoff.ms": 10,
                    "fetch.max.bytes": prefetch_kb * 1024,
                    # Only to satisfy librdkafka's check (fetch >= message max); a consumer
                    # sends no messages, and a larger record batch is still fetched whole.
                    "message.max.bytes": prefetch_kb * 1024,
                    "max.partition.fetch.bytes": prefetch_kb * 1024 // 4,
                    "enable.partition.eof": False,
                    **extra,
                },
            )
        )
        self._assigned: set[TP] = set()

    @property
    def assigned(self) -> frozenset[TP]:
        return frozenset(self._assigned)

    def assign(self, positions: Mapping[TP, int]) -> None:
        """Start reading each partition at its offset (0 = from the beginning)."""
        new = {tp: off for tp, off in positions.items() if tp not in self._assigned}
        if not new:
            return
        self._consumer.incremental_assign(
            [
                TopicPartition(t, p, off if off > 0 else OFFSET_BEGINNING)
                for (t, p), off in new.items()
            ]
        )
        self._assigned.update(new)

    def unassign(self, tps: Iterable[TP]) -> None:
        gone = [tp for tp in tps if tp in self._assigned]
        if not gone:
            return
        self._consumer.incremental_unassign([TopicPartition(t, p) for t, p in gone])
        self._assigned.difference_update(gone)

    def rewind(self, positions: Mapping[TP, int]) -> None:
        """Read these partitions again from these offsets (after a commit that failed)."""
        for (topic, partition), offset in positions.items():
            if (topic, partition) in self._assigned:
                self._consumer.seek(_at((topic, partition), offset))

    def poll(
        self,
        max_events: int,
        wait_s: float,
        linger_s: float = 0.0,
        busy: Callable[[], bool] = lambda: True,
    ) -> list[InMessage]:
        """Up to ``max_events``: waits up to ``wait_s`` for the first, takes what is queued,
        then, while ``busy()`` says there is no point closing the batch yet, gathers what
        arrives for up to ``linger_s`` after it. A batch closes on size, on that short linger
        or when no longer busy -- never on a fixed period."""
        if not self._assigned:
            time.sleep(wait_s)
            return []
        first = self._consumer.consume(1, wait_s)
        if not first:
            return []
        messages = first + self._consumer.consume(max_events - 1, 0)
        deadline = time.monotonic() + linger_s
        while len(messages) < max_events and busy():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            messages += self._consumer.consume(max_events - len(messages), min(left, 0.001))
        out = []
        for m in messages:
            if m.error() is not None:
                log.warning("input partition error", extra={"error": str(m.error())})
                continue
            headers = cast(Headers, m.headers() or [])
            out.append(
                InMessage(
                    cast(str, m.topic()),
                    cast(int, m.partition()),
                    cast(int, m.offset()),
                    m.key(),
                    m.value(),
                    headers,
                )
            )
        return out

    def lag(self) -> dict[TP, int]:
        """Input messages not yet read, per partition, from cached watermarks (no round trip)."""
        out: dict[TP, int] = {}
        positions = self._consumer.position([TopicPartition(t, p) for t, p in self._assigned])
        for pos in positions:
            if pos.offset < 0:
                continue
            _, high = self._consumer.get_watermark_offsets(pos, cached=True)
            if high >= 0:
                out[(pos.topic, pos.partition)] = max(high - pos.offset, 0)
        return out

    def close(self) -> None:
        self._consumer.close()

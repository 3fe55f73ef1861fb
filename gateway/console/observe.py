"""What the console's grants and ops pages show, read from Kafka: delivery lag per
department, recent deliveries and throughput from the audit topic (a recent window only),
dead letters. IO lives here; the summaries are pure functions."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from confluent_kafka import Consumer, TopicPartition

from govbus.audit_log import read_audit
from govbus.dlq import DeadLetter, read_dead_letters
from govbus.gateway.consume import GROUP
from govbus.kafka_config import client_config
from govbus.schemas.audit import AuditRecord
from govbus.schemas.topics import DELIVER_PREFIX, consumer_group, delivery_topic


@dataclass(frozen=True)
class Lag:
    department: str
    delivered: int  # end offsets of its delivery topic, summed (commit markers included)
    acknowledged: int  # its gateway group's committed offsets, summed

    @property
    def behind(self) -> int:
        return max(0, self.delivered - self.acknowledged)


def delivery_lag(bootstrap: str, department: str) -> Lag:
    """How far a department's acknowledged position trails its delivery topic."""
    topic = delivery_topic(department)
    consumer = Consumer(
        {
            **client_config(bootstrap),
            "group.id": consumer_group(department, GROUP),
            "enable.auto.commit": False,
        }
    )
    try:
        meta = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if meta is None or meta.error is not None:
            return Lag(department, 0, 0)
        parts = [TopicPartition(topic, p) for p in meta.partitions]
        ends = {tp.partition: consumer.get_watermark_offsets(tp, timeout=10)[1] for tp in parts}
        committed = consumer.committed(parts, timeout=10)
        acked = sum(max(tp.offset, 0) for tp in committed)
        return Lag(department, sum(ends.values()), acked)
    finally:
        consumer.close()


def departments(bootstrap: str) -> list[str]:
    """Every department with a delivery topic."""
    consumer = Consumer({**client_config(bootstrap), "group.id": "govbus-console-meta"})
    try:
        topics = consumer.list_topics(timeout=10).topics
    finally:
        consumer.close()
    return sorted(t.removeprefix(DELIVER_PREFIX) for t in topics if t.startswith(DELIVER_PREFIX))


def recent_audit(bootstrap: str, window: dt.timedelta) -> list[AuditRecord]:
    return read_audit(bootstrap, since=dt.datetime.now(dt.UTC) - window)


def deliveries_to(records: Iterable[AuditRecord], department: str) -> list[AuditRecord]:
    """Deliveries to ``department``, newest first (what, from whom, which fields and masks:
    never values)."""
    mine = [r for r in records if r.kind == "delivered" and r.subscriber == department]
    return sorted(mine, key=lambda r: r.at, reverse=True)


def source_of(letter: DeadLetter) -> str:
    return next(
        (v.decode(errors="replace") for k, v in letter.original_headers if k == "ce_source"), ""
    )


def letters_from(letters: Iterable[DeadLetter], department: str) -> list[DeadLetter]:
    """Dead letters of what ``department`` published (its own inputs the bus refused)."""
    return [d for d in letters if source_of(d) == department]


def dead_letters(bootstrap: str, window: dt.timedelta) -> list[DeadLetter]:
    return read_dead_letters(bootstrap, since=dt.datetime.now(dt.UTC) - window)


def by_reason(letters: Iterable[DeadLetter]) -> list[tuple[str, int]]:
    return Counter(d.reason for d in letters).most_common()


@dataclass(frozen=True)
class Throughput:
    minutes: int
    counts: dict[str, int]  # audit kind -> records in the window

    def per_minute(self, kind: str) -> float:
        return self.counts.get(kind, 0) / self.minutes


def throughput(records: Iterable[AuditRecord], minutes: int) -> Throughput:
    return Throughput(minutes, dict(Counter(r.kind for r in records)))

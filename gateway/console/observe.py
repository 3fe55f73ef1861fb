"""What the console's grants and ops pages show, read from Kafka: delivery lag per
department, recent deliveries and throughput from the audit topic (a recent window only),
dead letters. IO lives here; the summaries are pure functions."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.admin._listoffsets import OffsetSpec  # the public re-export is unstubbed

from govbus.audit_log import read_audit
from govbus.dlq import DeadLetter, read_dead_letters
from govbus.errors import ServiceUnavailableError
from govbus.gateway.consume import GROUP
from govbus.kafka_config import client_config
from govbus.schemas.audit import AuditRecord
from govbus.schemas.topics import DELIVER_PREFIX, consumer_group, delivery_topic

LATEST = OffsetSpec.latest()  # type: ignore[no-untyped-call]  # untyped in the library


@dataclass(frozen=True)
class Lag:
    department: str
    delivered: int  # end offsets of its delivery topic, summed (commit markers included)
    acknowledged: int  # its gateway group's committed offsets, summed

    @property
    def behind(self) -> int:
        return max(0, self.delivered - self.acknowledged)


def delivery_lags(bootstrap: str, only: str | None = None) -> list[Lag]:
    """How far each department's acknowledged position trails its delivery topic (or only
    department ``only``'s). One admin client and concurrent requests, not a consumer per
    department: the ops page lists every department on the bus."""
    admin = AdminClient(client_config(bootstrap))
    try:
        topics = admin.list_topics(timeout=10).topics
    except KafkaException as exc:
        raise ServiceUnavailableError(f"cannot list topics at {bootstrap}: {exc}") from None
    parts = {
        name.removeprefix(DELIVER_PREFIX): [TopicPartition(name, p) for p in meta.partitions]
        for name, meta in topics.items()
        if name.startswith(DELIVER_PREFIX)
        and meta.error is None
        and (only is None or name == delivery_topic(only))
    }
    if not parts:
        return [Lag(only, 0, 0)] if only is not None else []
    ends = admin.list_offsets(
        {tp: LATEST for tps in parts.values() for tp in tps}, request_timeout=10
    )
    acked = {
        dept: admin.list_consumer_group_offsets(
            [ConsumerGroupTopicPartitions(consumer_group(dept, GROUP), tps)], request_timeout=10
        )[consumer_group(dept, GROUP)]
        for dept, tps in parts.items()
    }
    out = []
    for dept, tps in sorted(parts.items()):
        delivered = sum(ends[tp].result().offset for tp in tps)
        committed = acked[dept].result().topic_partitions or []
        out.append(Lag(dept, delivered, sum(max(tp.offset, 0) for tp in committed)))
    return out


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

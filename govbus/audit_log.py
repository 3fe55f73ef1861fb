"""Reading the audit topic: all of it (verify the hash chains), or following it into an
index (disclosures, the trace index)."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Sequence
from typing import NamedTuple

from confluent_kafka import Consumer, KafkaError

from govbus.kafka_config import client_config
from govbus.kafka_read import read_to_end
from govbus.schemas.audit import AuditRecord
from govbus.schemas.topics import AUDIT, PROGRESS


def read_audit(bootstrap: str, since: dt.datetime | None = None) -> list[AuditRecord]:
    out = []
    for msg in read_to_end(bootstrap, AUDIT, since=since):
        if msg.value():
            out.append(AuditRecord.from_json(msg.value()))
    return out


def committed_heads(bootstrap: str) -> dict[str, tuple[int, str]]:
    """Every worker chain's committed head (seq, hash), from the progress markers: the key
    of a marker is the chain id (app|topic|partition)."""
    heads: dict[str, tuple[int, str]] = {}
    for msg in read_to_end(bootstrap, PROGRESS):
        if msg.key() and msg.value():
            marker = json.loads(msg.value())
            heads[msg.key().decode()] = (
                int(marker.get("audit_seq", 0)),
                str(marker.get("audit_head", "")),
            )
    return heads


class Positioned(NamedTuple):
    """An audit record and where it is in the audit topic."""

    partition: int
    offset: int
    record: AuditRecord


class AuditFollower:
    """Follows the audit topic in consumer group ``group`` and hands each batch to
    :meth:`apply`; commits offsets after it returned (at-least-once into idempotent
    upserts)."""

    def __init__(self, bootstrap: str, group: str) -> None:
        self.stop = threading.Event()
        self._consumer = Consumer(
            client_config(
                bootstrap,
                **{
                    "group.id": group,
                    "enable.auto.commit": False,
                    "isolation.level": "read_committed",
                    "auto.offset.reset": "earliest",
                    "enable.partition.eof": True,
                },
            )
        )
        self._consumer.subscribe([AUDIT], on_assign=lambda _c, _p: self.assigned())

    def assigned(self) -> None:
        """Called when partitions are (re)assigned, before records of them are read."""

    def apply(self, batch: Sequence[Positioned]) -> None:
        raise NotImplementedError

    def step(self, max_messages: int = 1000, timeout_s: float = 1.0) -> int:
        """One batch into :meth:`apply`; returns the audit records read."""
        batch = []
        for msg in self._consumer.consume(max_messages, timeout_s):
            err = msg.error()
            if err is not None:
                if err.code() != KafkaError._PARTITION_EOF:
                    raise RuntimeError(f"cannot read {AUDIT}: {err.str()}")
                continue
            value = msg.value()
            if value:
                # A consumed message always has a partition and offset (None: produced only).
                where = (msg.partition() or 0, msg.offset() or 0)
                batch.append(Positioned(*where, AuditRecord.from_json(value)))
        if batch:
            self.apply(batch)
            self._consumer.commit(asynchronous=False)
        return len(batch)

    def run(self) -> None:
        while not self.stop.is_set():
            self.step()

    def close(self) -> None:
        self._consumer.close()


def event_records(bootstrap: str, event_id: str) -> list[AuditRecord]:
    """One event's way through the bus, in order: accepted, delivered (to whom, which fields
    and masks), duplicates, dead letters, and the reads of its deliveries, by reading the whole
    audit topic: `govbus trace`'s fallback for an event the trace index does not know yet."""
    return sorted(concerning(event_id, read_audit(bootstrap)), key=lambda r: (r.at, r.seq))


def concerning(event_id: str, records: Sequence[AuditRecord]) -> list[AuditRecord]:
    """Of ``records``, those about ``event_id``: its own and the reads of its deliveries
    (reads are recorded by delivery id: the gateway never sees the bus-wide event id)."""
    delivered = {r.delivery_id for r in records if r.event_id == event_id and r.kind == "delivered"}
    return [
        r
        for r in records
        if r.event_id == event_id or (r.kind == "read" and r.delivery_id in delivered)
    ]


def event_traces(records: Sequence[AuditRecord]) -> dict[str, str]:
    """trace id -> what it covers: the publish trace (publish and processing) first, then
    each delivery's own trace, which is linked to it (docs/tracing.md)."""
    out: dict[str, str] = {}
    for r in records:
        if r.trace_id and r.kind in ("accepted", "duplicate", "dead_letter"):
            out.setdefault(r.trace_id, "publish and processing")
    for r in records:
        if r.trace_id and r.kind == "delivered":
            out.setdefault(r.trace_id, f"delivery to {r.subscriber}")
    return out

"""The trace index: "what happened to event X" from PostgreSQL in milliseconds, not from a
scan of the whole audit topic (seconds per hundred thousand records, and growing).

An indexer follows the audit topic (as the disclosure index does) and keeps, for every
record about an event, where it is: audit partition and offset, with the event id, delivery
id, kind and trace id. Answering reads those few records back from the audit topic itself,
so the answer is the tamper-evident trail (hash-chained) and the index holds nothing a
department sent -- only ids and positions.

Reads are recorded by delivery id (the gateway never sees the bus-wide event id): they are
joined to the event through its deliveries at query time, since a read may be indexed
before the delivery it names (another audit partition).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from confluent_kafka import Consumer, KafkaError, TopicPartition
from psycopg_pool import ConnectionPool

from govbus.audit_log import AuditFollower, Positioned, concerning, event_traces
from govbus.audit_watch import ChainMonitor
from govbus.kafka_config import client_config
from govbus.schemas.audit import AuditRecord
from govbus.schemas.topics import AUDIT

_DDL = """
CREATE TABLE IF NOT EXISTS govbus_trace_index (
    partition   integer NOT NULL,        -- of the audit topic
    "offset"    bigint NOT NULL,
    event_id    text NOT NULL,           -- '' for records named by delivery id only (reads)
    delivery_id text NOT NULL,
    kind        text NOT NULL,
    trace_id    text NOT NULL,
    PRIMARY KEY (partition, "offset")
);
CREATE INDEX IF NOT EXISTS govbus_trace_index_event
    ON govbus_trace_index (event_id) WHERE event_id <> '';
CREATE INDEX IF NOT EXISTS govbus_trace_index_delivery
    ON govbus_trace_index (delivery_id) WHERE delivery_id <> '';
CREATE INDEX IF NOT EXISTS govbus_trace_index_trace
    ON govbus_trace_index (trace_id) WHERE trace_id <> '';
"""

# The audit records of one event: its own, and those naming one of its deliveries.
_LOCATE = """
WITH own AS (
    SELECT partition, "offset", delivery_id, kind FROM govbus_trace_index WHERE event_id = %s
)
SELECT partition, "offset" FROM own
UNION
SELECT t.partition, t."offset" FROM govbus_trace_index t
    JOIN own o ON o.kind = 'delivered' AND o.delivery_id <> '' AND t.delivery_id = o.delivery_id
    WHERE t.event_id = ''
ORDER BY 1, 2
"""

Locator = tuple[int, int]  # audit partition, offset


def indexed(record: AuditRecord) -> bool:
    """Records about an event or one of its deliveries (not policy changes, lookups...)."""
    return bool(record.event_id or record.delivery_id)


class TraceIndexStore:
    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._pool: ConnectionPool | None = None
        self._pool_lock = threading.Lock()

    def _pooled(self) -> ConnectionPool:
        """Lookups reuse connections (a new one costs more than the query)."""
        with self._pool_lock:
            if self._pool is None:
                self._pool = ConnectionPool(self.dsn, min_size=1, max_size=4, open=True)
            return self._pool

    def close(self) -> None:
        with self._pool_lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None

    def init(self) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(_DDL)

    def apply(self, batch: Iterable[Positioned]) -> int:
        """Index these audit records' positions (idempotent); returns rows written."""
        rows = [
            (p.partition, p.offset, r.event_id, r.delivery_id, r.kind, r.trace_id)
            for p in batch
            if indexed(r := p.record)
        ]
        if rows:
            with psycopg.connect(self.dsn) as conn, conn.transaction(), conn.cursor() as cur:
                cur.executemany(
                    'INSERT INTO govbus_trace_index (partition, "offset", event_id,'
                    " delivery_id, kind, trace_id) VALUES (%s, %s, %s, %s, %s, %s)"
                    # A position holds one record: what is read there now wins (a topic
                    # recreated under the index, as a wiped test cluster is, must not be
                    # shadowed by the old topic's rows).
                    ' ON CONFLICT (partition, "offset") DO UPDATE SET event_id ='
                    " EXCLUDED.event_id, delivery_id = EXCLUDED.delivery_id, kind ="
                    " EXCLUDED.kind, trace_id = EXCLUDED.trace_id",
                    rows,
                )
        return len(rows)

    def locate(self, event_id: str) -> list[Locator]:
        with self._pooled().connection() as conn:
            return [(int(p), int(o)) for p, o in conn.execute(_LOCATE, [event_id]).fetchall()]

    def events_of_trace(self, trace_id: str) -> list[str]:
        """The events a trace id belongs to (a publish trace: one; a delivery's: one)."""
        with psycopg.connect(self.dsn) as conn:
            rows = conn.execute(
                "SELECT DISTINCT event_id FROM govbus_trace_index"
                " WHERE trace_id = %s AND event_id <> '' ORDER BY 1",
                [trace_id],
            ).fetchall()
        return [str(r[0]) for r in rows]


class TraceIndexer(AuditFollower):
    """Follows the audit topic into the trace index (own consumer group: a deployment that
    adds it indexes the whole retained history). With a ``monitor``, every record read is
    also checked against its chain (govbus.audit_watch): the indexer reads them all anyway."""

    def __init__(
        self,
        bootstrap: str,
        store: TraceIndexStore,
        group: str = "govbus-trace-index",
        monitor: ChainMonitor | None = None,
    ) -> None:
        super().__init__(bootstrap, group)
        self.store = store
        self.monitor = monitor

    def assigned(self) -> None:
        if self.monitor is not None:
            self.monitor.forget()

    def apply(self, batch: Sequence[Positioned]) -> None:
        if self.monitor is not None:
            self.monitor(batch)
        self.store.apply(batch)


# Wanted offsets closer than this are read through rather than sought one by one.
_READ_THROUGH = 200


class AuditFetcher:
    """Reads audit records at given positions. One consumer, kept (its connections and
    metadata are most of a first read's cost) and used by one caller at a time."""

    def __init__(self, bootstrap: str, timeout_s: float = 10.0) -> None:
        self.bootstrap = bootstrap
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._consumer: Consumer | None = None

    def __call__(self, locators: Sequence[Locator]) -> list[bytes]:
        """The raw records at ``locators``, in their order (sorted, distinct)."""
        wanted = sorted(set(locators))
        by_partition: dict[int, list[int]] = {}
        for partition, offset in wanted:
            by_partition.setdefault(partition, []).append(offset)
        deadline = time.monotonic() + self.timeout_s
        found: dict[Locator, bytes] = {}
        with self._lock:
            consumer = self._open()
            for partition, offsets in by_partition.items():
                found.update(_read_partition(consumer, partition, offsets, deadline))
        return [found[loc] for loc in wanted if loc in found]

    def _open(self) -> Consumer:
        if self._consumer is None:
            self._consumer = Consumer(
                client_config(
                    self.bootstrap,
                    **{
                        "group.id": f"govbus-trace-{uuid.uuid4()}",
                        "enable.auto.commit": False,
                        "isolation.level": "read_committed",
                        "fetch.wait.max.ms": 10,
                    },
                )
            )
        return self._consumer

    def close(self) -> None:
        with self._lock:
            if self._consumer is not None:
                self._consumer.close()
                self._consumer = None


def _read_partition(
    consumer: Consumer, partition: int, offsets: list[int], deadline: float
) -> dict[Locator, bytes]:
    """Seek to each wanted offset, reading through short gaps. One message a poll: a batch
    consume would wait out its timeout where transaction markers leave offsets empty."""
    wanted, i = set(offsets), 0
    found: dict[Locator, bytes] = {}
    while i < len(offsets):
        consumer.assign([TopicPartition(AUDIT, partition, offsets[i])])
        position = offsets[i]
        while i < len(offsets) and offsets[i] - position <= _READ_THROUGH:
            if time.monotonic() > deadline:
                raise TimeoutError(f"audit records of partition {partition} did not arrive")
            msg = consumer.poll(0.2)
            if msg is None:
                continue
            err = msg.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    continue
                raise RuntimeError(f"cannot read {AUDIT}: {err.str()}")
            offset, value = msg.offset() or 0, msg.value()
            position = offset + 1
            if offset in wanted and value:
                found[(partition, offset)] = value
            while i < len(offsets) and offsets[i] < position:
                i += 1
    return found


@dataclass(frozen=True)
class EventTrace:
    """What happened to one event, in order: accepted, delivered (to whom, which fields and
    masks, under which subscription and legal basis), duplicates, dead letters (why), reads
    (by whom); and the traces that cover it."""

    event_id: str
    records: list[AuditRecord]
    traces: dict[str, str]  # trace id -> what it covers

    def to_json(self) -> dict[str, Any]:
        first = self.records[0]
        return {
            "event_id": self.event_id,
            "type": first.type,
            "version": first.version,
            "source": first.source,
            "traces": [{"trace_id": t, "covers": what} for t, what in self.traces.items()],
            "steps": [_step(r) for r in self.records],
        }


def _step(r: AuditRecord) -> dict[str, Any]:
    # No subject pseudonym: it is not needed to say what happened, and stays in the audit.
    return {
        "at": r.at,
        "kind": r.kind,
        "who": r.subscriber or r.source,
        "subscription": r.subscription,
        "delivery_id": r.delivery_id,
        "fields": r.fields,
        "legal_basis": r.legal_basis,
        "purpose": r.purpose,
        "reason": r.reason,
        "detail": r.detail,
        "trace_id": r.trace_id,
        "audit": {"chain": r.chain, "seq": r.seq, "hash": r.hash},
    }


def assemble(event_id: str, records: Iterable[AuditRecord]) -> EventTrace | None:
    """The trace of ``event_id`` from its audit records (any order); None without any."""
    ordered = sorted(records, key=lambda r: (r.at, r.chain, r.seq))
    if not ordered:
        return None
    return EventTrace(event_id, ordered, event_traces(ordered))


def trace_of(
    event_id: str,
    locate: Callable[[str], Sequence[Locator]],
    read: Callable[[Sequence[Locator]], Sequence[bytes]],
) -> EventTrace | None:
    """What happened to ``event_id``: ``locate`` finds its audit records' positions (the
    index), ``read`` fetches them (the audit topic). None if the index knows no record."""
    locators = locate(event_id)
    if not locators:
        return None
    return assemble(
        event_id, concerning(event_id, [AuditRecord.from_json(r) for r in read(locators)])
    )


class TraceLookup:
    """:func:`trace_of` over the real index and audit topic."""

    def __init__(self, bootstrap: str, dsn: str) -> None:
        self.store = TraceIndexStore(dsn)
        self.fetch = AuditFetcher(bootstrap)

    def __call__(self, event_id: str) -> EventTrace | None:
        return trace_of(event_id, self.store.locate, self.fetch)

    def close(self) -> None:
        self.fetch.close()
        self.store.close()

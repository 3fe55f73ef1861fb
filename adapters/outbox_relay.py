"""Relay outbox rows to Kafka: claim, send, wait for acks=all, then mark sent -- in that
order, inside one PostgreSQL transaction per batch.

- Several relays may run at once: each batch claims rows with FOR UPDATE SKIP LOCKED, and
  only the oldest pending row of each aggregate is claimable, so two relays never take two
  rows of one aggregate and per-aggregate order holds.
- Kafka down: the batch's sends fail or time out, the transaction rolls back, rows stay
  pending, the relay backs off and retries.
- Relay crash after the broker acked but before the commit: the rows are sent again on
  restart with the same event id, and the bus counts the copy as a duplicate.
- A row that is not a valid event is marked 'rejected' with the reason (never dropped).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import psycopg
from confluent_kafka import KafkaException
from psycopg import sql

from govbus.adapters.outbox import channel, check_table
from govbus.adapters.publisher import EventEncoder, Prepared, Publisher, PublishError
from govbus.schemas.errors import ReasonedError
from govbus.schemas.jsonvalues import to_record

log = logging.getLogger(__name__)

_CLAIM = """
SELECT o.seq, o.id::text, o.source, o.event_type, o.event_version, o.payload,
       o.correlation_id, o.causation_id, o.corrects, o.retract, o.traceparent, o.created_at
  FROM {table} o
 WHERE o.status = 'pending'
   AND NOT EXISTS (SELECT 1 FROM {table} p
                    WHERE p.aggregate_id = o.aggregate_id AND p.status = 'pending'
                      AND p.seq < o.seq)
 ORDER BY o.seq
 LIMIT %s
 FOR UPDATE SKIP LOCKED
"""


@dataclass
class RelayStats:
    sent: int = 0
    rejected: int = 0
    batches: int = 0
    failures: int = 0


class OutboxRelay:
    def __init__(
        self,
        dsn: str,
        publishers: dict[str, Publisher],
        *,
        table: str,
        batch_size: int = 100,
        ack_timeout_s: float = 30.0,
    ) -> None:
        self.dsn = dsn
        self.table = check_table(table)
        self.publishers = publishers
        self.batch_size = batch_size
        self.ack_timeout_s = ack_timeout_s
        self.stats = RelayStats()
        self.stop = threading.Event()

    def publisher(self, source: str) -> Publisher:
        if source not in self.publishers:
            self.publishers[source] = Publisher(source)
        return self.publishers[source]

    def run(self, *, once: bool = False, idle_wait_s: float = 1.0) -> RelayStats:
        """Relay until stopped (or, with ``once``, until nothing is pending). Survives
        PostgreSQL and Kafka outages: it retries with backoff and reconnects its listener."""
        backoff = 0.5
        listener: psycopg.Connection[Any] | None = None
        try:
            while not self.stop.is_set():
                try:
                    if listener is None or listener.closed:
                        listener = self._listen()
                    moved = self.relay_batch()
                    backoff = 0.5
                    if moved:
                        continue
                    if once:
                        break
                    for _ in listener.notifies(timeout=idle_wait_s, stop_after=1):
                        pass
                except (psycopg.Error, PublishError, KafkaException, TimeoutError) as exc:
                    self.stats.failures += 1
                    log.warning(
                        "outbox batch failed; retrying",
                        extra={"error": str(exc)[:300], "retry_in_s": backoff},
                    )
                    if isinstance(exc, psycopg.OperationalError) and listener is not None:
                        listener.close()  # reconnect (and LISTEN again) on the next round
                    time.sleep(backoff)
                    backoff = min(backoff * 2, 10.0)
        finally:
            if listener is not None:
                listener.close()
        return self.stats

    def _listen(self) -> psycopg.Connection[Any]:
        listener = psycopg.connect(self.dsn, autocommit=True, connect_timeout=5)
        listener.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel(self.table))))
        return listener

    def relay_batch(self) -> int:
        """One claim-send-mark cycle; returns the rows it settled (sent or rejected)."""
        table = sql.Identifier(self.table)
        with psycopg.connect(self.dsn) as conn, conn.transaction():
            rows = conn.execute(sql.SQL(_CLAIM).format(table=table), (self.batch_size,)).fetchall()
            if not rows:
                return 0
            ready: list[tuple[int, Any]] = []
            rejected: list[tuple[int, str]] = []
            for row in rows:
                try:
                    ready.append((row[0], self._send(row)))
                except ReasonedError as exc:
                    rejected.append((row[0], f"{exc.reason}: {exc}"))
            for _, future in ready:
                future.result(timeout=self.ack_timeout_s)  # raises: the batch rolls back
            now = dt.datetime.now(dt.UTC)
            if ready:
                conn.execute(
                    sql.SQL(
                        "UPDATE {} SET status = 'sent', sent_at = %s, attempts = attempts + 1"
                        " WHERE seq = ANY(%s)"
                    ).format(table),
                    (now, [seq for seq, _ in ready]),
                )
            for seq, error in rejected:
                conn.execute(
                    sql.SQL(
                        "UPDATE {} SET status = 'rejected', error = %s, attempts = attempts + 1"
                        " WHERE seq = %s"
                    ).format(table),
                    (error[:500], seq),
                )
        self.stats.sent += len(ready)
        self.stats.rejected += len(rejected)
        self.stats.batches += 1
        return len(rows)

    def _send(self, row: tuple[Any, ...]) -> Any:
        (
            _,
            event_id,
            source,
            event_type,
            version,
            payload,
            corr,
            cause,
            corrects,
            retract,
            parent,
            created,
        ) = row
        publisher = self.publisher(source)
        encoder: EventEncoder = publisher.encoder
        event = encoder.event_type(event_type, version)
        prepared: Prepared = encoder.prepare(
            event_type,
            to_record(event, payload),
            version=version,
            event_id=event_id,
            time=created,
            correlation_id=corr,
            causation_id=cause,
            corrects=corrects,
            retract=bool(retract),
            extra_headers=[("traceparent", parent.encode())] if parent else (),
        )
        return publisher.send(prepared)


def pending_counts(dsn: str, table: str) -> dict[str, int]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            sql.SQL("SELECT status, count(*) FROM {} GROUP BY status").format(
                sql.Identifier(check_table(table))
            )
        ).fetchall()
    return {str(status): int(count) for status, count in rows}

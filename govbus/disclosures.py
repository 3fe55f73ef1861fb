"""The disclosure index: who received which data about a person or an enterprise, built
from the audit topic into PostgreSQL, so a report never scans Kafka.

Rows are keyed by the bus-wide *subject pseudonym*: a clear ID is turned into pseudonyms at
lookup time and is never stored. Reads (gateway 'read' records) and acknowledgements of
corrections ('correction_acked') are kept apart and joined at query time, because they may
be indexed before the delivery they name (different audit partitions).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from govbus.audit_log import AuditFollower, Positioned
from govbus.pseudonym import Pseudonymizer
from govbus.schemas.audit import AuditRecord
from govbus.schemas.catalogue import Catalogue
from govbus.schemas.identifiers import STRING_CHECKS
from govbus.schemas.topics import split_source

_DDL = """
CREATE TABLE IF NOT EXISTS govbus_disclosures (
    delivery_id  text PRIMARY KEY,
    subject      text NOT NULL,          -- bus-wide subject pseudonym, never a clear ID
    event_id     text NOT NULL,
    event_type   text NOT NULL,
    source       text NOT NULL,
    subscriber   text NOT NULL,
    subscription text NOT NULL,
    fields       jsonb NOT NULL,         -- field -> masking rule, as delivered
    legal_basis  text NOT NULL,
    purpose      text NOT NULL,
    delivered_at timestamptz NOT NULL,
    amendment    text,                   -- correction | retraction | null
    amends       text,                   -- event id corrected or retracted
    trace_id     text NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS govbus_disclosures_subject ON govbus_disclosures (subject);
CREATE INDEX IF NOT EXISTS govbus_disclosures_amended
    ON govbus_disclosures (delivered_at) WHERE amendment IS NOT NULL;
CREATE TABLE IF NOT EXISTS govbus_disclosure_reads (
    delivery_id   text NOT NULL,
    subscriber    text NOT NULL,
    first_read_at timestamptz NOT NULL,
    PRIMARY KEY (delivery_id, subscriber)
);
CREATE TABLE IF NOT EXISTS govbus_correction_acks (
    delivery_id text NOT NULL,
    subscriber  text NOT NULL,
    acked_at    timestamptz NOT NULL,
    PRIMARY KEY (delivery_id, subscriber)
);
"""


@dataclass(frozen=True)
class Disclosure:
    delivery_id: str
    event_id: str
    event_type: str
    source: str
    subscriber: str
    subscription: str
    fields: dict[str, str]
    legal_basis: str
    purpose: str
    delivered_at: dt.datetime
    amendment: str | None
    amends: str | None
    read_at: dt.datetime | None
    acked_at: dt.datetime | None
    trace_id: str

    @property
    def from_peer(self) -> str | None:
        """The peer province's bus the data came from (federation), None when local."""
        return split_source(self.source)[0]

    def to_json(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["from_peer"] = self.from_peer
        for key in ("delivered_at", "read_at", "acked_at"):
            value = out[key]
            out[key] = value.isoformat() if value else None
        return out

    def for_citizen(self) -> dict[str, Any]:
        """What the person is told: who received what, when, why, masked how, read or not.
        No delivery, event or trace id: a department that sees this report (the portal, a
        leaked copy) must not be able to locate another department's copy with it."""
        out = self.to_json()
        return {
            "recipient": out["subscriber"],
            "subscription": out["subscription"],
            "event_type": out["event_type"],
            "source": out["source"],
            "from_peer": out["from_peer"],
            "fields": out["fields"],
            "legal_basis": out["legal_basis"],
            "purpose": out["purpose"],
            "delivered_at": out["delivered_at"],
            "read": self.read_at is not None,
            "read_at": out["read_at"],
            "amendment": out["amendment"],
            "amendment_acknowledged_at": out["acked_at"],
        }


def subject_pseudonyms(
    pseudonymizer: Pseudonymizer, catalogue: Catalogue, clear_id: str
) -> list[str]:
    """The pseudonyms a presented identifier has as the subject of any event type: one per
    identifier kind the catalogue uses for subjects that the value is valid for."""
    kinds = set()
    for event in catalogue:
        kind = event.subject_kind
        check = STRING_CHECKS.get(kind)
        if check is None or check(clear_id) is None:
            kinds.add(kind)
    return sorted({pseudonymizer.subject(kind, clear_id) for kind in kinds})


class DisclosureStore:
    def __init__(self, dsn: str) -> None:
        self.dsn = dsn

    def init(self) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(_DDL)

    def apply(self, records: Iterable[AuditRecord]) -> int:
        """Index what matters in these audit records (idempotent); returns rows touched.
        Batched (executemany runs in pipeline mode): a long history indexes quickly."""
        delivered, reads, acks = [], [], []
        for r in records:
            if r.kind == "delivered" and r.subject:
                delivered.append(
                    (
                        r.delivery_id,
                        r.subject,
                        r.event_id,
                        r.type,
                        r.source,
                        r.subscriber,
                        r.subscription,
                        json.dumps(r.fields),
                        r.legal_basis,
                        r.purpose,
                        r.at,
                        r.reason or None,
                        r.detail.rsplit(" of ", 1)[1] if r.reason else None,
                        r.trace_id,
                    )
                )
            elif r.kind == "read" and r.delivery_id:
                reads.append((r.delivery_id, r.subscriber, r.at))
            elif r.kind == "correction_acked" and r.delivery_id:
                acks.append((r.delivery_id, r.subscriber, r.at))
        with psycopg.connect(self.dsn) as conn, conn.transaction(), conn.cursor() as cur:
            if delivered:
                cur.executemany(
                    "INSERT INTO govbus_disclosures (delivery_id, subject, event_id,"
                    " event_type, source, subscriber, subscription, fields, legal_basis,"
                    " purpose, delivered_at, amendment, amends, trace_id)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                    " ON CONFLICT (delivery_id) DO NOTHING",
                    delivered,
                )
            if reads:
                cur.executemany(
                    "INSERT INTO govbus_disclosure_reads VALUES (%s, %s, %s)"
                    " ON CONFLICT (delivery_id, subscriber) DO UPDATE SET first_read_at ="
                    " least(govbus_disclosure_reads.first_read_at, excluded.first_read_at)",
                    reads,
                )
            if acks:
                cur.executemany(
                    "INSERT INTO govbus_correction_acks VALUES (%s, %s, %s)"
                    " ON CONFLICT (delivery_id, subscriber) DO NOTHING",
                    acks,
                )
        return len(delivered) + len(reads) + len(acks)

    def _select(self, where: str, params: Sequence[Any]) -> list[Disclosure]:
        """``where`` is one of this module's fixed conditions, never caller text."""
        query = sql.SQL(
            "SELECT d.delivery_id, d.event_id, d.event_type, d.source, d.subscriber,"
            " d.subscription, d.fields, d.legal_basis, d.purpose, d.delivered_at, d.amendment,"
            " d.amends, r.first_read_at, a.acked_at, d.trace_id"
            " FROM govbus_disclosures d"
            " LEFT JOIN govbus_disclosure_reads r"
            "   ON r.delivery_id = d.delivery_id AND r.subscriber = d.subscriber"
            " LEFT JOIN govbus_correction_acks a"
            "   ON a.delivery_id = d.delivery_id AND a.subscriber = d.subscriber"
            " WHERE {where} ORDER BY d.delivered_at, d.subscriber"
        ).format(where=sql.SQL(where))
        with psycopg.connect(self.dsn) as conn:
            rows = conn.execute(query, params).fetchall()
        return [Disclosure(*row) for row in rows]

    def report(self, subjects: Sequence[str]) -> list[Disclosure]:
        """Every delivery about these subject pseudonyms."""
        return self._select("d.subject = ANY(%s)", [list(subjects)])

    def pending_amendments(self, older_than: dt.timedelta, now: dt.datetime) -> list[Disclosure]:
        """Corrections and retractions not acknowledged by their recipient in time."""
        return self._select(
            "d.amendment IS NOT NULL AND a.acked_at IS NULL AND d.delivered_at < %s",
            [now - older_than],
        )


class DisclosureIndexer(AuditFollower):
    """Follows the audit topic into the store."""

    def __init__(
        self, bootstrap: str, store: DisclosureStore, group: str = "govbus-disclosure-index"
    ) -> None:
        super().__init__(bootstrap, group)
        self.store = store

    def apply(self, batch: Sequence[Positioned]) -> None:
        self.store.apply(p.record for p in batch)

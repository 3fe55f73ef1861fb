"""Electronic licence verification: an index of licence validity, maintained from the bus's
own deliveries (the verification service is a subscriber, `licence_registry`, granted only
licence ids and dates), answering valid / revoked / expired / unknown and nothing else."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import psycopg

from govbus.delivery_reader import DeliveryReader, Received

LICENCE_REGISTRY = "licence_registry"
ISSUED = "gov.market_regulation.licence_issued"
REVOKED = "gov.market_regulation.licence_revoked"
Status = Literal["valid", "revoked", "expired", "not_yet_valid", "unknown"]

_DDL = """
CREATE TABLE IF NOT EXISTS govbus_licences (
    licence_id  text PRIMARY KEY,
    valid_from  date,
    valid_until date,
    revoked_on  date,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
"""


@dataclass(frozen=True)
class LicenceState:
    valid_from: dt.date | None
    valid_until: dt.date | None
    revoked_on: dt.date | None


def status(state: LicenceState | None, today: dt.date) -> Status:
    """Pure. A revocation wins from its date on; an issue event never un-revokes."""
    if state is None or (state.valid_from is None and state.revoked_on is None):
        return "unknown"
    if state.revoked_on is not None and state.revoked_on <= today:
        return "revoked"
    if state.valid_from is not None and today < state.valid_from:
        return "not_yet_valid"
    if state.valid_until is not None and today > state.valid_until:
        return "expired"
    return "valid"


def _date(value: object) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


class LicenceStore:
    def __init__(self, dsn: str) -> None:
        self.dsn = dsn

    def init(self) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(_DDL)

    def apply(self, deliveries: Iterable[Received]) -> int:
        """Merge issue and revocation events in any order (idempotent)."""
        count = 0
        with psycopg.connect(self.dsn) as conn, conn.transaction():
            for item in deliveries:
                record = item.record
                if item.envelope.type == ISSUED:
                    conn.execute(
                        "INSERT INTO govbus_licences (licence_id, valid_from, valid_until)"
                        " VALUES (%s, %s, %s) ON CONFLICT (licence_id) DO UPDATE SET"
                        " valid_from = excluded.valid_from, valid_until = excluded.valid_until,"
                        " updated_at = now()",
                        (
                            record["licence_id"],
                            _date(record.get("valid_from")),
                            _date(record.get("valid_until")),
                        ),
                    )
                elif item.envelope.type == REVOKED:
                    conn.execute(
                        "INSERT INTO govbus_licences (licence_id, revoked_on) VALUES (%s, %s)"
                        " ON CONFLICT (licence_id) DO UPDATE SET revoked_on = least("
                        " coalesce(govbus_licences.revoked_on, excluded.revoked_on),"
                        " excluded.revoked_on), updated_at = now()",
                        (record["licence_id"], _date(record.get("revoked_on"))),
                    )
                else:
                    continue
                count += 1
        return count

    def state(self, licence_id: str) -> LicenceState | None:
        with psycopg.connect(self.dsn) as conn:
            row = conn.execute(
                "SELECT valid_from, valid_until, revoked_on FROM govbus_licences"
                " WHERE licence_id = %s",
                (licence_id,),
            ).fetchone()
        return None if row is None else LicenceState(*row)


class LicenceIndexer:
    """Reads the licence registry's delivery topic into the store; commits after storing."""

    def __init__(self, bootstrap: str, store: LicenceStore) -> None:
        self.store = store
        self.reader = DeliveryReader(bootstrap, LICENCE_REGISTRY, group="licence-index")
        self.stop = threading.Event()

    def step(self) -> int:
        try:
            items = self.reader.poll(500, 1.0)
        except RuntimeError:  # the registry's topic does not exist until it is subscribed
            return 0
        if items:
            self.store.apply(items)
            self.reader.commit()
        return len(items)

    def run(self) -> None:
        while not self.stop.is_set():
            self.step()

    def close(self) -> None:
        self.reader.close()

"""A sample department application: the civil registry (births and deaths) on PostgreSQL.

It records a fact in its own table and, in the same transaction, the event in the govbus
outbox: either both happen or neither does. The relay does the rest. A correction updates
the row and enqueues an event that corrects the row's previous event.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from govbus.adapters import outbox
from govbus.schemas.jsonvalues import to_json

SOURCE = "health"
BIRTH = "gov.health.birth_registered"
DEATH = "gov.health.death_registered"
_DDL = """
CREATE TABLE IF NOT EXISTS {table} (
    certificate_no text PRIMARY KEY,
    record         jsonb NOT NULL,
    event_id       text NOT NULL,          -- the latest event that states this record
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    corrected_at   timestamptz
)
"""


class CivilRegistry:
    def __init__(
        self,
        dsn: str,
        *,
        prefix: str = "civil_registry",
        outbox_table: str = outbox.DEFAULT_TABLE,
    ) -> None:
        self.dsn = dsn
        self.tables = {
            BIRTH: outbox.check_table(f"{prefix}_births"),
            DEATH: outbox.check_table(f"{prefix}_deaths"),
        }
        self.outbox_table = outbox_table

    def init(self) -> None:
        outbox.init(self.dsn, self.outbox_table)
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            for table in self.tables.values():
                conn.execute(sql.SQL(_DDL).format(table=sql.Identifier(table)))

    def register_birth(self, data: Mapping[str, Any], *, correlation_id: str | None = None) -> str:
        return self._record(BIRTH, data, correlation_id)

    def register_death(self, data: Mapping[str, Any], *, correlation_id: str | None = None) -> str:
        return self._record(DEATH, data, correlation_id)

    def correct_death(
        self, certificate_no: str, changes: Mapping[str, Any], *, correlation_id: str | None = None
    ) -> str:
        """Fix a recorded death; the bus sends the corrected facts to exactly the departments
        that received the previous version. Returns the correction's event id."""
        table = sql.Identifier(self.tables[DEATH])
        with psycopg.connect(self.dsn) as conn, conn.transaction():
            row = conn.execute(
                sql.SQL(
                    "SELECT record, event_id FROM {} WHERE certificate_no = %s FOR UPDATE"
                ).format(table),
                (certificate_no,),
            ).fetchone()
            if row is None:
                raise KeyError(f"no death recorded under {certificate_no}")
            record = {**row[0], **to_json(dict(changes))}
            event_id = self._enqueue(conn, DEATH, record, correlation_id, corrects=row[1])
            conn.execute(
                sql.SQL(
                    "UPDATE {} SET record = %s, event_id = %s, corrected_at = now()"
                    " WHERE certificate_no = %s"
                ).format(table),
                (Jsonb(record), event_id, certificate_no),
            )
            return event_id

    def _record(self, event_type: str, data: Mapping[str, Any], correlation_id: str | None) -> str:
        """Record the fact and its outbox event atomically; returns the event id."""
        with psycopg.connect(self.dsn) as conn, conn.transaction():
            event_id = self._enqueue(conn, event_type, data, correlation_id)
            conn.execute(
                sql.SQL(
                    "INSERT INTO {} (certificate_no, record, event_id) VALUES (%s, %s, %s)"
                ).format(sql.Identifier(self.tables[event_type])),
                (data["certificate_no"], Jsonb(to_json(dict(data))), event_id),
            )
            return event_id

    def _enqueue(
        self,
        conn: psycopg.Connection[Any],
        event_type: str,
        data: Mapping[str, Any],
        correlation_id: str | None,
        corrects: str | None = None,
    ) -> str:
        return outbox.enqueue(
            conn,
            source=SOURCE,
            aggregate_type=event_type.rsplit(".", 1)[1],
            aggregate_id=str(data["certificate_no"]),
            event_type=event_type,
            data=data,
            correlation_id=correlation_id,
            corrects=corrects,
            table=self.outbox_table,
        )

"""A sample department application: a hospital's birth registry on PostgreSQL.

It records a birth in its own table and, in the same transaction, the event in the govbus
outbox: either both happen or neither does. The relay does the rest.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from govbus.adapters import outbox

BIRTH = "gov.health.birth_registered"
_DDL = """
CREATE TABLE IF NOT EXISTS {table} (
    certificate_no text PRIMARY KEY,
    baby_name      text NOT NULL,
    sex            text NOT NULL,
    birth_date     date NOT NULL,
    birth_region   text NOT NULL,
    hospital       text NOT NULL,
    mother_id      text NOT NULL,
    record         jsonb NOT NULL,
    registered_at  timestamptz NOT NULL DEFAULT now()
)
"""


class BirthRegistry:
    def __init__(
        self, dsn: str, *, table: str = "registry_births", outbox_table: str = outbox.DEFAULT_TABLE
    ) -> None:
        self.dsn = dsn
        self.table = outbox.check_table(table)
        self.outbox_table = outbox_table

    def init(self) -> None:
        outbox.init(self.dsn, self.outbox_table)
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(sql.SQL(_DDL).format(table=sql.Identifier(self.table)))

    def register_birth(self, data: dict[str, Any], *, correlation_id: str | None = None) -> str:
        """Record the birth and its outbox event atomically; returns the event id."""
        with psycopg.connect(self.dsn) as conn, conn.transaction():
            conn.execute(
                sql.SQL(
                    "INSERT INTO {} (certificate_no, baby_name, sex, birth_date, birth_region,"
                    " hospital, mother_id, record) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
                ).format(sql.Identifier(self.table)),
                (
                    data["certificate_no"],
                    data["baby_name"],
                    data["sex"],
                    data["birth_date"],
                    data["birth_region"],
                    data["hospital"],
                    data["mother_id"],
                    Jsonb({k: str(v) for k, v in data.items()}),
                ),
            )
            return outbox.enqueue(
                conn,
                source="health",
                aggregate_type="birth",
                aggregate_id=data["certificate_no"],
                event_type=BIRTH,
                data=data,
                correlation_id=correlation_id,
                table=self.outbox_table,
            )

"""The PostgreSQL transactional outbox: the DDL, and the call a department makes inside its
own business transaction. The relay that moves rows to Kafka is adapters/outbox_relay.py."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from importlib import resources
from typing import Any

import psycopg
from psycopg import sql

from govbus.schemas.jsonvalues import to_json

DEFAULT_TABLE = "govbus_outbox"
_NAME_RE = re.compile(r"^[a-z_][a-z0-9_]{0,40}$")


def check_table(table: str) -> str:
    if not _NAME_RE.match(table):
        raise ValueError(f"invalid outbox table name {table!r}")
    return table


def channel(table: str) -> str:
    return f"{check_table(table)}_new"


def ddl(table: str = DEFAULT_TABLE) -> sql.Composed:
    text = resources.files("govbus.adapters").joinpath("sql", "outbox.sql").read_text()
    t = check_table(table)
    return sql.SQL(text).format(  # trusted, packaged DDL text
        table=sql.Identifier(t),
        index=sql.Identifier(f"{t}_pending"),
        function=sql.Identifier(f"{t}_notify"),
        trigger=sql.Identifier(f"{t}_notify"),
        channel=sql.Literal(channel(t)),
    )


def init(dsn: str, table: str = DEFAULT_TABLE) -> None:
    """Create the outbox table, index and notify trigger (idempotent)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(ddl(table))


def enqueue(
    conn: psycopg.Connection[Any],
    *,
    source: str,
    aggregate_type: str,
    aggregate_id: str,
    event_type: str,
    data: Mapping[str, Any],
    event_version: int | None = None,
    event_id: str | None = None,
    correlation_id: str | None = None,
    causation_id: str | None = None,
    corrects: str | None = None,
    retract: bool = False,
    traceparent: str | None = None,
    table: str = DEFAULT_TABLE,
) -> str:
    """Add one event to the outbox on ``conn``, in the caller's open transaction: it is
    relayed if and only if that transaction commits. Returns the event id."""
    event_id = event_id or str(uuid.uuid4())
    conn.execute(
        sql.SQL(
            "INSERT INTO {} (id, source, aggregate_type, aggregate_id, event_type, event_version,"
            " payload, correlation_id, causation_id, corrects, retract, traceparent)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        ).format(sql.Identifier(check_table(table))),
        (
            event_id,
            source,
            aggregate_type,
            aggregate_id,
            event_type,
            event_version,
            json.dumps(to_json(data), ensure_ascii=False),
            correlation_id,
            causation_id,
            corrects,
            retract,
            traceparent,
        ),
    )
    return event_id

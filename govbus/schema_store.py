"""Projected delivery schemas, kept in the compacted topic govbus.schemas (key = fingerprint),
so any reader (the gateway, a subscriber's own Kafka client) can decode what it received."""

from __future__ import annotations

import json

from govbus.kafka_read import read_to_end
from govbus.schemas.catalogue import Schema
from govbus.schemas.topics import SCHEMAS


def schema_record(fp: bytes, schema: Schema) -> tuple[bytes, bytes]:
    return fp.hex().encode(), json.dumps(schema, sort_keys=True, ensure_ascii=False).encode()


def read_all_schemas(bootstrap: str, extra: dict[str, str] | None = None) -> dict[bytes, Schema]:
    out: dict[bytes, Schema] = {}
    # Uncommitted too: a schema is named by its own fingerprint, so one from an aborted
    # transaction is still that schema. Read committed, one open transaction (a worker killed
    # mid-commit) hides every schema written after it until it times out, and deliveries
    # already visible on their own topics could not be decoded meanwhile.
    for msg in read_to_end(
        bootstrap, SCHEMAS, {"isolation.level": "read_uncommitted", **(extra or {})}
    ):
        if msg.key() and msg.value():
            out[bytes.fromhex(msg.key().decode())] = json.loads(msg.value())
    return out

"""Reading the audit topic (verify the hash chains; follow one event)."""

from __future__ import annotations

import datetime as dt
import json

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

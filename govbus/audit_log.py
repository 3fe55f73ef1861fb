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


def event_records(bootstrap: str, event_id: str) -> list[AuditRecord]:
    """One event's way through the bus, in order: accepted, delivered (to whom, which fields
    and masks), duplicates, dead letters, and the reads of its deliveries. `govbus trace` and
    the console's trace view both ask this; today it reads the whole audit topic."""
    everything = read_audit(bootstrap)
    records = [r for r in everything if r.event_id == event_id]
    # Reads are recorded by delivery id (the gateway never sees the bus-wide event id).
    delivered = {r.delivery_id for r in records if r.kind == "delivered"}
    records += [r for r in everything if r.kind == "read" and r.delivery_id in delivered]
    return sorted(records, key=lambda r: (r.at, r.seq))


def event_traces(records: list[AuditRecord]) -> dict[str, str]:
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

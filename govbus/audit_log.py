"""Reading the audit topic (verify the hash chains; follow one event)."""

from __future__ import annotations

import datetime as dt

from govbus.kafka_read import read_to_end
from govbus.schemas.audit import AuditRecord
from govbus.schemas.topics import AUDIT


def read_audit(bootstrap: str, since: dt.datetime | None = None) -> list[AuditRecord]:
    out = []
    for msg in read_to_end(bootstrap, AUDIT, since=since):
        if msg.value():
            out.append(AuditRecord.from_json(msg.value()))
    return out

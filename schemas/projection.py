"""The Avro schema of what a subscriber receives: only its granted fields, masked values typed
as strings, redacted values as null. Derived, so a subscriber decodes exactly what it got."""

from __future__ import annotations

import copy
from collections.abc import Mapping

from govbus.schemas.catalogue import EventType, Schema

CLEAR = "clear"
REDACT = "redact"


def projected_schema(event: EventType, rules: Mapping[str, str], subscription_id: str) -> Schema:
    fields = []
    for raw in event.schema["fields"]:
        rule = rules.get(raw["name"])
        if rule is None:
            continue
        out = {k: v for k, v in raw.items() if k not in ("type", "default")}
        out["govbus.mask"] = rule
        spec = event.fields[raw["name"]]
        if rule == CLEAR:
            out["type"] = copy.deepcopy(raw["type"])
            if "default" in raw:
                out["default"] = raw["default"]
        elif rule == REDACT:
            out["type"] = "null"
            out["default"] = None
        elif spec.nullable:
            out["type"] = ["null", "string"]
            out["default"] = None
        else:
            out["type"] = "string"
        fields.append(out)
    return {
        "type": "record",
        "name": event.schema["name"],
        "namespace": event.schema["namespace"],
        "doc": f"{event.ce_type} as delivered under subscription {subscription_id}",
        "govbus.type": event.type,
        "govbus.version": event.version,
        "govbus.projection_of": event.fingerprint.hex(),
        "fields": fields,
    }

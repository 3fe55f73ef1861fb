"""The Avro schema of what a subscriber receives: only its granted fields, masked values typed
as strings, redacted values as null. Derived, so a subscriber decodes exactly what it got."""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Mapping

from govbus.schemas.catalogue import EventType, Schema

CLEAR = "clear"
REDACT = "redact"


SUBSCRIBER_ATTR = "govbus.subscriber"


def projected_schema(
    event: EventType,
    rules: Mapping[str, str],
    subscription_id: str,
    subscriber: str | None = None,
) -> Schema:
    """What ``subscriber`` receives under ``subscription_id``. The subscriber is an attribute
    (outside the Avro fingerprint): the gateway serves a schema to its subscriber only."""
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
    schema: Schema = {
        "type": "record",
        "name": event.schema["name"],
        "namespace": projection_namespace(subscription_id, rules),
        "doc": f"{event.ce_type} as delivered under subscription {subscription_id}",
        "govbus.type": event.type,
        "govbus.version": event.version,
        "govbus.projection_of": event.fingerprint.hex(),
        "fields": fields,
    }
    if subscriber is not None:
        schema[SUBSCRIBER_ATTR] = subscriber
    return schema


def projection_namespace(subscription_id: str, rules: Mapping[str, str]) -> str:
    """Unique per subscription and rule set. The Avro fingerprint covers only the canonical
    form (names and types, not attributes), so without this two subscriptions with the same
    field types but different masks would share a fingerprint, and one's schema -- with its
    govbus.mask attributes -- would be served for the other's deliveries."""
    digest = hashlib.sha256(json.dumps(sorted(rules.items())).encode()).hexdigest()[:12]
    return f"govbus.delivered.s_{re.sub(r'[^A-Za-z0-9_]', '_', subscription_id)}.r{digest}"

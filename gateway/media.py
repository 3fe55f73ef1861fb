"""Content negotiation of the pull response (pure): CloudEvents JSON, or the page as real
Avro (an Avro object container file holding one ``DeliveryPage`` record)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any, Literal

import fastavro

Variant = Literal["json", "avro"]

JSON_TYPES = ("application/json", "application/cloudevents-batch+json")
# Avro has no single registered media type: the one Apache Avro names for binary data, the
# Confluent/Kafka tools' one, and the short one that clients commonly send.
AVRO_TYPES = ("application/vnd.apache.avro+binary", "avro/binary", "application/avro")
_WILDCARDS = ("*/*", "application/*")


def _entries(accept: str) -> list[tuple[str, float, int]]:
    """(media type, q, position) of each range; a malformed q counts as 0 (not acceptable)."""
    out = []
    for position, part in enumerate(accept.split(",")):
        fields = [f.strip() for f in part.split(";")]
        media = fields[0].lower()
        if not media:
            continue
        q = 1.0
        for param in fields[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
                q = q if 0.0 <= q <= 1.0 else 0.0
        out.append((media, q, position))
    return out


def negotiate(accept: str | None) -> tuple[Variant, str] | None:
    """The variant and the media type to answer with, or None when nothing acceptable is
    offered (406). No header, ``*/*`` or ``application/*``: JSON."""
    if accept is None or not accept.strip():
        return "json", JSON_TYPES[0]
    ranked = sorted(_entries(accept), key=lambda e: (-e[1], e[2]))
    for media, q, _ in ranked:
        if q <= 0:
            continue
        if media in JSON_TYPES:
            return "json", JSON_TYPES[0]
        if media in AVRO_TYPES:
            return "avro", media
        if media in _WILDCARDS:
            return "json", JSON_TYPES[0]
    return None


OFFERED = ", ".join((*JSON_TYPES, *AVRO_TYPES))

_OPTIONAL = ["null", "string"]
DELIVERY_PAGE_SCHEMA: dict[str, Any] = {
    "type": "record",
    "name": "DeliveryPage",
    "namespace": "govbus.gateway",
    "doc": "A page of your deliveries, oldest first. Each event's data is its Avro "
    "single-object encoding; its schema is at the dataschema URL.",
    "fields": [
        {
            "name": "events",
            "type": {
                "type": "array",
                "items": {
                    "type": "record",
                    "name": "Delivery",
                    "fields": [
                        {"name": "id", "type": "string"},
                        {"name": "source", "type": "string"},
                        {"name": "type", "type": "string"},
                        {"name": "subject", "type": "string"},
                        {"name": "time", "type": "string"},
                        {"name": "dataschema", "type": "string"},
                        {"name": "subscription", "type": "string"},
                        {"name": "traceparent", "type": _OPTIONAL, "default": None},
                        {"name": "corrects", "type": _OPTIONAL, "default": None},
                        {"name": "amendment", "type": _OPTIONAL, "default": None},
                        {"name": "cursor", "type": "string", "doc": "ack it once processed"},
                        {"name": "data", "type": "bytes"},
                    ],
                },
            },
        },
        {"name": "cursor", "type": "string", "doc": "where the next pull starts"},
    ],
}
_PARSED = fastavro.parse_schema(DELIVERY_PAGE_SCHEMA)


def avro_page(events: Sequence[dict[str, Any]], cursor: str) -> bytes:
    """One ``DeliveryPage`` in an Avro object container file (schema embedded)."""
    out = io.BytesIO()
    fastavro.writer(out, _PARSED, [{"events": list(events), "cursor": cursor}], codec="null")
    return out.getvalue()

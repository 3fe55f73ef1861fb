"""Event data from JSON or CSV text into Avro-ready Python values, and back to JSON.

Outbox payloads (JSONB), batch files and HTTP bodies carry dates as ISO strings and, in CSV,
everything as text; the Avro writer wants dates, ints and None. Errors name the field and
never echo its value.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from govbus.schemas.catalogue import EventType
from govbus.schemas.errors import ReasonedError


class FieldValueError(ReasonedError):
    """A field's value cannot be read as its Avro type."""


def to_record(
    event: EventType, data: Mapping[str, Any], *, from_text: bool = False
) -> dict[str, Any]:
    """Convert ``data`` to the event's Avro shape; ``from_text``: every value is a string and
    an empty string means null (CSV)."""
    unknown = sorted(set(data) - set(event.fields))
    if unknown:
        raise FieldValueError("field.unknown", f"unknown fields: {', '.join(unknown)}")
    out: dict[str, Any] = {}
    for raw in event.schema["fields"]:
        name = raw["name"]
        if name not in data or (from_text and data[name] == ""):
            if "default" in raw:
                out[name] = raw["default"]
                continue
            raise FieldValueError("field.missing", f"field {name} is required")
        out[name] = _convert(name, raw["type"], data[name], from_text)
    return out


def _convert(name: str, avro_type: Any, value: Any, from_text: bool) -> Any:
    if isinstance(avro_type, list):
        if value is None:
            if "null" in avro_type:
                return None
            raise FieldValueError("field.null", f"field {name} may not be null")
        branch = next(t for t in avro_type if t != "null")
        return _convert(name, branch, value, from_text)
    if value is None:
        raise FieldValueError("field.null", f"field {name} may not be null")
    logical = avro_type.get("logicalType") if isinstance(avro_type, dict) else None
    base = avro_type["type"] if isinstance(avro_type, dict) else avro_type
    try:
        if logical == "date":
            return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
        if logical == "timestamp-millis":
            parsed = (
                value
                if isinstance(value, dt.datetime)
                else dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            )
            if parsed.tzinfo is None:
                raise ValueError("needs a time zone")
            return parsed
        if base == "enum":
            if value not in avro_type["symbols"]:
                raise ValueError(f"expected one of {', '.join(avro_type['symbols'])}")
            return value
        if base in ("int", "long"):
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            if from_text and isinstance(value, str):
                return int(value)
            raise ValueError("expected an integer")
        if base == "string":
            if not isinstance(value, str):
                raise ValueError("expected a string")
            return value
        if base == "boolean":
            if from_text:
                return {"true": True, "false": False}[str(value).lower()]
            if not isinstance(value, bool):
                raise ValueError("expected true or false")
            return value
    except (ValueError, KeyError) as exc:
        raise FieldValueError("field.type", f"field {name}: {exc}") from None
    raise FieldValueError("field.type", f"field {name}: unsupported type {base}")


def to_json(record: Mapping[str, Any]) -> dict[str, Any]:
    """Avro-decoded values as JSON-friendly ones (dates as ISO strings)."""
    return {
        k: v.isoformat() if isinstance(v, dt.date | dt.datetime) else v for k, v in record.items()
    }

"""Hypothesis strategies derived from Avro schemas (so they follow the catalogue)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import strategies as st

from govbus.schemas.catalogue import EventType


def for_type(avro_type: Any) -> st.SearchStrategy[Any]:
    if isinstance(avro_type, list):
        return st.one_of(*[for_type(t) for t in avro_type])
    if isinstance(avro_type, dict):
        logical = avro_type.get("logicalType")
        if logical == "date":
            return st.dates(dt.date(1900, 1, 1), dt.date(2100, 1, 1))
        if avro_type["type"] == "enum":
            return st.sampled_from(avro_type["symbols"])
        return for_type(avro_type["type"])
    return {
        "null": st.none(),
        "string": st.text(max_size=40),
        "int": st.integers(-(2**31), 2**31 - 1),
        "long": st.integers(-(2**63), 2**63 - 1),
        "boolean": st.booleans(),
        "double": st.floats(allow_nan=False),
    }[avro_type]


def records(event: EventType) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({f["name"]: for_type(f["type"]) for f in event.schema["fields"]})

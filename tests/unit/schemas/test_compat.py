from __future__ import annotations

import copy
from typing import Any

import pytest

from govbus.schemas.compat import can_read, check

BASE: dict[str, Any] = {
    "type": "record",
    "name": "R",
    "namespace": "gov.t",
    "fields": [
        {"name": "id", "type": "string"},
        {"name": "n", "type": "int"},
        {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": ["A", "B"]}},
        {"name": "day", "type": {"type": "int", "logicalType": "date"}},
        {"name": "opt", "type": ["null", "string"], "default": None},
    ],
}


def changed(**edits: Any) -> dict[str, Any]:
    schema = copy.deepcopy(BASE)
    fields = {f["name"]: f for f in schema["fields"]}
    for name, new in edits.items():
        if new is None:
            schema["fields"].remove(fields[name])
        elif name in fields:
            fields[name].clear()
            fields[name].update({"name": name, **new})
        else:
            schema["fields"].append({"name": name, **new})
    return schema


@pytest.mark.parametrize(
    ("new", "mode", "ok"),
    [
        (changed(extra={"type": ["null", "int"], "default": None}), "FULL", True),
        (changed(extra={"type": "int"}), "BACKWARD", False),  # new field, no default
        (changed(extra={"type": "int"}), "FORWARD", True),  # old readers ignore it
        (changed(opt=None), "BACKWARD", True),  # removing a field is backward-safe
        (changed(n=None), "FORWARD", False),  # old readers need n, which has no default
        (changed(n={"type": "long"}), "BACKWARD", True),  # int promotes to long
        (changed(n={"type": "long"}), "FORWARD", False),  # long does not narrow to int
        (changed(n={"type": "string"}), "BACKWARD", False),
        (
            changed(kind={"type": {"type": "enum", "name": "Kind", "symbols": ["A"]}}),
            "BACKWARD",
            False,
        ),
        (
            changed(kind={"type": {"type": "enum", "name": "Kind", "symbols": ["A", "B", "C"]}}),
            "BACKWARD",
            True,
        ),
        (changed(day={"type": "int"}), "BACKWARD", False),  # logical type dropped
        (changed(opt={"type": "string"}), "BACKWARD", False),  # null branch lost
        (changed(id={"type": ["null", "string"], "default": None}), "BACKWARD", True),
        (changed(n={"type": "string"}), "NONE", True),
    ],
)
def test_modes(new: dict[str, Any], mode: Any, ok: bool) -> None:
    assert (check(new, BASE, mode) == []) is ok


def test_renamed_record_is_incompatible() -> None:
    other = copy.deepcopy(BASE)
    other["name"] = "Other"
    assert can_read(other, BASE)


def test_aliases_let_a_field_be_renamed() -> None:
    new = changed(n=None, count={"type": "int", "aliases": ["n"]})
    assert can_read(new, BASE) == []

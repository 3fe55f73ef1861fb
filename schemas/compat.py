"""Schema evolution checks, by the Avro specification's schema-resolution rules.

``can_read(reader, writer)`` lists why data written with ``writer`` cannot be read with
``reader`` (empty = compatible). BACKWARD: the new version reads the previous version's
data; FORWARD: the previous reads the new; FULL: both.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

Mode = Literal["BACKWARD", "FORWARD", "FULL", "NONE"]
MODES: tuple[Mode, ...] = ("BACKWARD", "FORWARD", "FULL", "NONE")

_PROMOTIONS = {
    "int": {"int", "long", "float", "double"},
    "long": {"long", "float", "double"},
    "float": {"float", "double"},
    "double": {"double"},
    "string": {"string", "bytes"},
    "bytes": {"bytes", "string"},
    "null": {"null"},
    "boolean": {"boolean"},
}
_NAMED = ("record", "enum", "fixed")


def check(new: Mapping[str, Any], old: Mapping[str, Any], mode: Mode) -> list[str]:
    problems: list[str] = []
    if mode in ("BACKWARD", "FULL"):
        problems += [f"BACKWARD: {p}" for p in can_read(new, old)]
    if mode in ("FORWARD", "FULL"):
        problems += [f"FORWARD: {p}" for p in can_read(old, new)]
    return problems


def can_read(reader: Any, writer: Any) -> list[str]:
    return _Resolver().compare(reader, writer, "$")


class _Resolver:
    def __init__(self) -> None:
        self.reader_names: dict[str, Any] = {}
        self.writer_names: dict[str, Any] = {}

    def _deref(self, schema: Any, names: dict[str, Any], namespace: str | None) -> Any:
        if isinstance(schema, dict):
            if schema.get("type") in _NAMED:
                full = _fullname(schema, namespace)
                names.setdefault(full, schema)
                names.setdefault(full.rsplit(".", 1)[-1], schema)
            return schema
        if isinstance(schema, str) and schema not in _PROMOTIONS:
            return names.get(schema) or names.get(f"{namespace}.{schema}") or schema
        return schema

    def compare(self, reader: Any, writer: Any, path: str, ns: str | None = None) -> list[str]:
        reader = self._deref(reader, self.reader_names, ns)
        writer = self._deref(writer, self.writer_names, ns)
        if isinstance(writer, list):
            problems = []
            for branch in writer:
                if isinstance(reader, list):
                    if not any(not self.compare(r, branch, path, ns) for r in reader):
                        problems.append(
                            f"{path}: writer branch {_name(branch)} has no reader branch"
                        )
                else:
                    problems += self.compare(reader, branch, path, ns)
            return problems
        if isinstance(reader, list):
            if any(not self.compare(r, writer, path, ns) for r in reader):
                return []
            return [f"{path}: no reader branch reads {_name(writer)}"]
        r_type, w_type = _type(reader), _type(writer)
        r_logical = reader.get("logicalType") if isinstance(reader, dict) else None
        w_logical = writer.get("logicalType") if isinstance(writer, dict) else None
        if r_logical != w_logical:
            return [f"{path}: logical type {w_logical} cannot be read as {r_logical}"]
        if r_type in _PROMOTIONS and w_type in _PROMOTIONS:
            if r_type in _PROMOTIONS[w_type]:
                return []
            return [f"{path}: {w_type} cannot be read as {r_type}"]
        if r_type != w_type:
            return [f"{path}: {w_type} cannot be read as {r_type}"]
        if r_type == "record":
            return self._records(reader, writer, path, ns)
        if r_type == "enum":
            missing = set(writer["symbols"]) - set(reader["symbols"])
            if missing and "default" not in reader:
                return [f"{path}: enum symbols {sorted(missing)} unknown to the reader"]
            return []
        if r_type == "array":
            return self.compare(reader["items"], writer["items"], f"{path}[]", ns)
        if r_type == "map":
            return self.compare(reader["values"], writer["values"], f"{path}{{}}", ns)
        if r_type == "fixed" and reader.get("size") != writer.get("size"):
            return [f"{path}: fixed size {writer.get('size')} != {reader.get('size')}"]
        return []

    def _records(
        self, reader: dict[str, Any], writer: dict[str, Any], path: str, ns: str | None
    ) -> list[str]:
        if reader["name"].rsplit(".", 1)[-1] != writer["name"].rsplit(".", 1)[-1]:
            return [f"{path}: record {writer['name']} cannot be read as {reader['name']}"]
        inner_ns = reader.get("namespace", ns)
        by_name = {f["name"]: f for f in writer["fields"]}
        problems = []
        for field in reader["fields"]:
            names = [field["name"], *field.get("aliases", [])]
            source = next((by_name[n] for n in names if n in by_name), None)
            where = f"{path}.{field['name']}"
            if source is None:
                if "default" not in field:
                    problems.append(f"{where}: new field without a default")
                continue
            problems += self.compare(field["type"], source["type"], where, inner_ns)
        return problems


def _type(schema: Any) -> str:
    if isinstance(schema, dict):
        inner = schema["type"]
        return inner if isinstance(inner, str) else _type(inner)
    return str(schema)


def _name(schema: Any) -> str:
    return schema.get("name", _type(schema)) if isinstance(schema, dict) else str(schema)


def _fullname(schema: Mapping[str, Any], namespace: str | None) -> str:
    name = str(schema["name"])
    if "." in name:
        return name
    space = schema.get("namespace", namespace)
    return f"{space}.{name}" if space else name

"""The catalogue: event types loaded from the ``.avsc`` files, checked for completeness.

An event type is a catalogue entry in the sense of the sharing rules: a provider
department (owner), fields each with a classification, a sharing type and a
legal basis. The catalogue refuses a schema with an unclassified field.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property
from importlib import resources
from pathlib import Path
from typing import Any, Literal, cast

import fastavro
from fastavro.schema import fingerprint, to_parsing_canonical_form

from govbus.schemas.identifiers import STRING_CHECKS
from govbus.schemas.topics import LANES, REALTIME, Lane, check_party_id, event_topic, split_type

Classification = Literal["identifier", "pii", "sensitive", "public"]
SharingType = Literal["unconditional", "conditional", "not_shared"]
CLASSIFICATIONS: tuple[Classification, ...] = ("identifier", "pii", "sensitive", "public")
SHARING_TYPES: tuple[SharingType, ...] = ("unconditional", "conditional", "not_shared")
# Formats that are not identifier checks but tell masking what a value is.
_DISPLAY_FORMATS = frozenset({"name", "address", "date", "bank_card", "email"})
FORMATS = frozenset(STRING_CHECKS) | _DISPLAY_FORMATS

Schema = dict[str, Any]


class CatalogueError(ValueError):
    """One or more schemas are not acceptable catalogue entries."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class FieldSpec:
    name: str
    classification: Classification
    doc: str
    avro_type: Any  # the raw Avro type of the field
    format: str | None = None
    nullable: bool = False

    @property
    def base_type(self) -> Any:
        """The non-null branch of a nullable union, else the type itself."""
        if isinstance(self.avro_type, list):
            return next(t for t in self.avro_type if t != "null")
        return self.avro_type

    @property
    def logical_type(self) -> str | None:
        base = self.base_type
        return base.get("logicalType") if isinstance(base, dict) else None


@dataclass(frozen=True)
class EventType:
    type: str  # gov.<domain>.<event>
    version: int
    owner: str  # the provider department
    sharing: SharingType
    legal_basis: str
    doc: str
    subject_field: str
    dedupe_key: tuple[str, ...]
    retention_days: int
    schema: Schema = field(repr=False)
    fields: Mapping[str, FieldSpec] = field(repr=False)
    # Set on a type as received from a federated peer (govbus.schemas.federation): the
    # peer's name and the masking rules the peer applied before sending.
    peer: str | None = None
    received_rules: Mapping[str, str] | None = field(default=None, repr=False)

    @property
    def ce_type(self) -> str:
        return f"{self.type}.v{self.version}"

    @property
    def subject_kind(self) -> str:
        """What kind of identifier the subject field holds (its format, else its name): one
        person has one subject per kind, whichever type names them."""
        spec = self.fields[self.subject_field]
        return spec.format or spec.name

    @property
    def topic(self) -> str:
        """The real-time lane's topic (the one publishers use unless they load in bulk)."""
        return event_topic(self.type, self.version)

    def lane_topic(self, lane: Lane = REALTIME) -> str:
        return event_topic(self.type, self.version, lane)

    @property
    def topics(self) -> tuple[str, ...]:
        """This type's topic in every lane."""
        return tuple(event_topic(self.type, self.version, lane) for lane in LANES)

    @property
    def parsed(self) -> Schema:
        return _parse(json.dumps(self.schema, sort_keys=True))

    @cached_property
    def fingerprint(self) -> bytes:
        # Cached: the worker asks for it per event and per delivery (profiled: ~10% of the
        # batch logic went into re-serialising the schema to look it up).
        return schema_fingerprint(self.schema)


@cache
def _parse(schema_json: str) -> Schema:
    return cast(Schema, fastavro.parse_schema(json.loads(schema_json), _write_hint=False))


def parse_schema(schema: Schema) -> Schema:
    """fastavro's parsed form, cached by content so hot paths never parse twice."""
    return _parse(json.dumps(schema, sort_keys=True))


def schema_fingerprint(schema: Schema) -> bytes:
    """CRC-64-AVRO of the parsing canonical form, little-endian (single-object encoding)."""
    return _fingerprint(json.dumps(schema, sort_keys=True))


@cache
def _fingerprint(schema_json: str) -> bytes:
    canonical = to_parsing_canonical_form(json.loads(schema_json))
    return bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO"))


class Catalogue:
    def __init__(self, entries: list[EventType]) -> None:
        self._by_key = {(e.type, e.version): e for e in entries}
        self._by_fp = {e.fingerprint: e for e in entries}

    @classmethod
    def from_dir(cls, directory: Path) -> Catalogue:
        return cls.from_schemas(_named(directory))

    @classmethod
    def from_schemas(cls, named: list[tuple[str, Schema]]) -> Catalogue:
        problems: list[str] = []
        entries = []
        seen: dict[tuple[str, int], str] = {}
        for name, schema in named:
            entry, errs = entry_from_schema(schema)
            problems += [f"{name}: {e}" for e in errs]
            if entry is None:
                continue
            first = seen.setdefault((entry.type, entry.version), name)
            if first != name:
                problems.append(f"{name}: {entry.ce_type} is already defined by {first}")
                continue
            entries.append(entry)
        if problems:
            raise CatalogueError(problems)
        return cls(entries)

    def __iter__(self) -> Iterator[EventType]:
        return iter(sorted(self._by_key.values(), key=lambda e: (e.type, e.version)))

    def __len__(self) -> int:
        return len(self._by_key)

    def get(self, event_type: str, version: int | None = None) -> EventType | None:
        if version is None:
            return self.latest(event_type)
        return self._by_key.get((event_type, version))

    def latest(self, event_type: str) -> EventType | None:
        versions = [v for (t, v) in self._by_key if t == event_type]
        return self._by_key[(event_type, max(versions))] if versions else None

    def versions(self, event_type: str) -> list[EventType]:
        return sorted(
            (e for (t, _), e in self._by_key.items() if t == event_type), key=lambda e: e.version
        )

    def by_fingerprint(self, fp: bytes) -> EventType | None:
        return self._by_fp.get(fp)

    def types(self) -> list[str]:
        return sorted({t for t, _ in self._by_key})

    def event_topics(self) -> list[str]:
        """Every event topic of every type, in every lane."""
        return sorted({t for e in self for t in e.topics})


# Declared as a setting in govbus.config (ConnectionSettings.catalogue_dir: documented,
# known to `govbus config check`); read here because schemas/ imports nothing of ours.
CATALOGUE_DIR_ENV = "GOVBUS_CATALOGUE_DIR"


def shipped_dir() -> Path:
    return Path(str(resources.files("govbus.schemas").joinpath("avro")))


def catalogue_dir() -> Path | None:
    """The operator's directory of further event types (GOVBUS_CATALOGUE_DIR), if set."""
    value = os.environ.get(CATALOGUE_DIR_ENV)
    return Path(value) if value else None


def _named(directory: Path, prefix: str = "") -> list[tuple[str, Schema]]:
    return [
        (f"{prefix}{p.name}", json.loads(p.read_text())) for p in sorted(directory.glob("*.avsc"))
    ]


@cache
def default_catalogue() -> Catalogue:
    """The catalogue shipped in schemas/avro, plus the event types in GOVBUS_CATALOGUE_DIR:
    a new event type joins a running bus by a file there and a rolling restart, no release
    of govbus (docs/event-types.md)."""
    named = _named(shipped_dir())
    extra = catalogue_dir()
    if extra is not None:
        if not extra.is_dir():
            raise CatalogueError([f"{CATALOGUE_DIR_ENV}={extra} is not a directory"])
        named += _named(extra, f"{extra}/")
    return Catalogue.from_schemas(named)


def entry_from_schema(schema: Schema) -> tuple[EventType | None, list[str]]:
    """Check one schema as a catalogue entry; returns the entry or the problems found."""
    problems: list[str] = []
    if schema.get("type") != "record":
        return None, ["top level must be an Avro record"]
    meta = {
        k: schema.get(f"govbus.{k}")
        for k in (
            "type",
            "version",
            "owner",
            "sharing",
            "legal_basis",
            "retention_days",
            "subject",
            "dedupe_key",
        )
    }
    try:
        split_type(str(meta["type"]))
    except ValueError as exc:
        problems.append(str(exc))
    if not isinstance(meta["version"], int) or meta["version"] < 1:
        problems.append("govbus.version must be a positive integer")
    try:
        check_party_id(str(meta["owner"]))
    except ValueError as exc:
        problems.append(f"govbus.owner: {exc}")
    if meta["sharing"] not in SHARING_TYPES:
        problems.append(f"govbus.sharing must be one of {', '.join(SHARING_TYPES)}")
    if not meta["legal_basis"]:
        problems.append("govbus.legal_basis is required (for every sharing type)")
    if not schema.get("doc"):
        problems.append("the record needs a doc")
    fields: dict[str, FieldSpec] = {}
    for raw in schema.get("fields", []):
        spec, errs = _field_spec(raw)
        problems += errs
        if spec is not None:
            fields[spec.name] = spec
    if meta["subject"] not in fields:
        problems.append("govbus.subject must name a field")
    dedupe = meta["dedupe_key"] or []
    if not isinstance(dedupe, list) or any(k not in fields for k in dedupe):
        problems.append("govbus.dedupe_key must list fields")
    try:
        parse_schema(schema)
    except Exception as exc:
        problems.append(f"not a valid Avro schema: {exc}")
    if problems:
        return None, problems
    return EventType(
        type=str(meta["type"]),
        version=int(cast(int, meta["version"])),
        owner=str(meta["owner"]),
        sharing=cast(SharingType, meta["sharing"]),
        legal_basis=str(meta["legal_basis"]),
        doc=str(schema["doc"]),
        subject_field=str(meta["subject"]),
        dedupe_key=tuple(cast(list[str], dedupe)),
        retention_days=int(cast(int, meta["retention_days"] or 3650)),
        schema=schema,
        fields=fields,
    ), []


def _field_spec(raw: Mapping[str, Any]) -> tuple[FieldSpec | None, list[str]]:
    name = raw.get("name", "?")
    problems = []
    cls = raw.get("govbus.class")
    if cls not in CLASSIFICATIONS:
        problems.append(
            f"field {name} is unclassified: set govbus.class to one of {', '.join(CLASSIFICATIONS)}"
        )
    if not raw.get("doc"):
        problems.append(f"field {name} needs a doc")
    fmt = raw.get("govbus.format")
    if fmt is not None and fmt not in FORMATS:
        problems.append(f"field {name}: unknown govbus.format {fmt!r}")
    if problems:
        return None, problems
    avro_type = raw["type"]
    nullable = isinstance(avro_type, list) and "null" in avro_type
    return FieldSpec(
        name=name,
        classification=cast(Classification, cls),
        doc=raw["doc"],
        avro_type=avro_type,
        format=fmt,
        nullable=nullable,
    ), []

"""The catalogue as the console shows it: every event type with its versions, fields,
classifications, sharing type, owner and compatibility. Pure: derived from the catalogue
(the .avsc files), the one source of truth."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from govbus.schemas.catalogue import Catalogue, EventType
from govbus.schemas.compat import Mode, check

DEFAULT_COMPATIBILITY = "BACKWARD"  # as schemas/gate.py assumes when a type names none


@dataclass(frozen=True)
class FieldRow:
    name: str
    classification: str
    format: str
    type: str
    nullable: bool
    doc: str


@dataclass(frozen=True)
class VersionRow:
    version: int
    ce_type: str
    topic: str
    compatibility: str
    problems: list[str]  # against the version before (empty: compatible)
    fields: list[FieldRow]


@dataclass(frozen=True)
class TypeRow:
    type: str
    owner: str
    sharing: str
    legal_basis: str
    doc: str
    retention_days: int
    subject_field: str
    versions: list[VersionRow]

    @property
    def latest(self) -> VersionRow:
        return self.versions[-1]


def _type_name(avro_type: Any) -> str:
    if isinstance(avro_type, dict):
        return str(avro_type.get("logicalType") or avro_type.get("type"))
    return str(avro_type)


def _fields(event: EventType) -> list[FieldRow]:
    return [
        FieldRow(
            spec.name,
            spec.classification,
            spec.format or "",
            _type_name(spec.base_type),
            spec.nullable,
            spec.doc,
        )
        for spec in event.fields.values()
    ]


def type_row(catalogue: Catalogue, type_name: str) -> TypeRow | None:
    versions = catalogue.versions(type_name)
    if not versions:
        return None
    rows: list[VersionRow] = []
    before: EventType | None = None
    for event in versions:
        mode = str(event.schema.get("govbus.compatibility", DEFAULT_COMPATIBILITY)).upper()
        problems = check(event.schema, before.schema, cast(Mode, mode)) if before else []
        rows.append(
            VersionRow(event.version, event.ce_type, event.topic, mode, problems, _fields(event))
        )
        before = event
    latest = versions[-1]
    return TypeRow(
        latest.type,
        latest.owner,
        latest.sharing,
        latest.legal_basis,
        latest.doc,
        latest.retention_days,
        latest.subject_field,
        rows,
    )


def catalogue_rows(catalogue: Catalogue) -> list[TypeRow]:
    return [row for name in catalogue.types() if (row := type_row(catalogue, name))]

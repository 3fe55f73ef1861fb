"""What a requested subscription would deliver, shown before it is asked for: a sample event
of the type, and each field as the requesting department would receive it. Pure: the same
masking operators and delivery plan the stream worker applies (govbus.masking,
schemas.federation.delivered_rules), with the subscriber's own keyed pseudonyms handed in."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from govbus.masking import apply_rule
from govbus.policy import MASK_RULES, rule_problem
from govbus.schemas.catalogue import EventType, FieldSpec
from govbus.schemas.federation import delivered_rules

SAMPLE_DAY = dt.date(2026, 11, 1)
# Plausible, checksum-valid sample values by field format (DOMAIN: GB 11643, GB 32100...).
SAMPLES_BY_FORMAT: dict[str, Any] = {
    "name": "欧阳小明",
    "citizen_id": "11010519491231002X",
    "mobile": "13812345678",
    "bank_card": "6222020200112233445",
    "address": "北京市海淀区中关村大街1号",
    "email": "zhang@example.cn",
    "credit_code": "91350100M000100Y43",
    "certificate_no": "P110105202611010001",
    "region_code": "110105",
    "licence_id": "1.2.156.3005.2.11100000000013127D001.0001.1.C",
    "date": SAMPLE_DAY,
}
_BY_TYPE: dict[str, Any] = {
    "int": 7,
    "long": 7,
    "float": 3.5,
    "double": 3.5,
    "boolean": True,
    "string": "sample",
    "bytes": b"sample",
}


def sample_value(spec: FieldSpec) -> Any:
    if spec.logical_type == "date":
        return SAMPLE_DAY
    if spec.logical_type in ("timestamp-millis", "timestamp-micros"):
        return dt.datetime(2026, 11, 1, 8, 30, tzinfo=dt.UTC)
    if spec.format in SAMPLES_BY_FORMAT:
        return SAMPLES_BY_FORMAT[spec.format]
    base = spec.base_type
    if isinstance(base, dict) and base.get("type") == "enum":
        return base["symbols"][0]
    return _BY_TYPE.get(base if isinstance(base, str) else str(base.get("type")), "sample")


def sample_record(event: EventType) -> dict[str, Any]:
    """One sample event of ``event``'s type, every field filled."""
    return {name: sample_value(spec) for name, spec in event.fields.items()}


def rules_for(spec: FieldSpec) -> list[str]:
    """The masking rules that apply to this field (policy.rule_problem decides)."""
    return [rule for rule in MASK_RULES if rule_problem(spec, rule) is None]


@dataclass(frozen=True)
class PreviewRow:
    field: str
    classification: str
    sample: Any
    rule: str  # as delivered ("" when the field is not requested)
    received: Any  # as the subscriber would receive it
    requested: bool


def preview(
    event: EventType,
    wanted: Mapping[str, str],
    pseudonymize: Callable[[str, str], str],
    record: Mapping[str, Any] | None = None,
) -> list[PreviewRow]:
    """Every field of the type: its sample value and what the subscriber receives of it
    (nothing, for a field not requested). ``pseudonymize(kind, value)`` is the subscriber's."""
    record = record if record is not None else sample_record(event)
    plan = delivered_rules(event, {n: r for n, r in wanted.items() if n in event.fields})
    rows = []
    for name, spec in event.fields.items():
        value = record.get(name)
        if name not in plan:
            rows.append(PreviewRow(name, spec.classification, value, "", None, False))
            continue
        shown, applied = plan[name]
        received = apply_rule(
            applied, value, fmt=spec.format, as_of=SAMPLE_DAY, pseudonymize=pseudonymize
        )
        rows.append(PreviewRow(name, spec.classification, value, shown, received, True))
    return rows

"""Field-level checks of a decoded record: identifier check digits, formats, date ranges.
Shared by the publisher SDK (fail early) and the stream workers (the authority)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from govbus.schemas.catalogue import FieldSpec
from govbus.schemas.identifiers import STRING_CHECKS, check_date


def check_fields(specs: Iterable[FieldSpec], record: dict[str, object]) -> tuple[str, str] | None:
    """Identifier check digits, formats and date ranges; the message names the field only."""
    for spec in specs:
        value = record.get(spec.name)
        if value is None:
            continue
        check = STRING_CHECKS.get(spec.format or "")
        if check is not None and isinstance(value, str):
            problem = check(value)
            if problem:
                return f"identifier.{spec.format}", f"field {spec.name}: {problem}"
        if isinstance(value, dt.date) and (problem := check_date(value)):
            return "field.date", f"field {spec.name}: {problem}"
        if isinstance(value, str) and ("\x00" in value or len(value) > 10_000):
            return "field.text", f"field {spec.name}: NUL byte or longer than 10000 characters"
    return None

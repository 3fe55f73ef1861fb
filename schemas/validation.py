"""Field-level checks of a decoded record: identifier check digits, formats, date ranges.
Shared by the publisher SDK (fail early) and the stream workers (the authority)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

from govbus.schemas.catalogue import FieldSpec
from govbus.schemas.identifiers import STRING_CHECKS, check_date

MAX_TEXT_CHARS = 10_000
# Control characters (tab, LF and CR aside) and bidirectional overrides/isolates: they can
# forge what a log line, a report or a clerk's screen shows ("Trojan Source" style), and no
# legitimate name, address or reason needs them. Other Unicode -- CJK extension planes,
# middle dots in transliterated names, emoji -- is data and passes.
_UNSAFE_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


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
        if isinstance(value, str):
            if len(value) > MAX_TEXT_CHARS:
                return "field.text", f"field {spec.name}: longer than {MAX_TEXT_CHARS} characters"
            if _UNSAFE_TEXT.search(value):
                return "field.text", (
                    f"field {spec.name}: control or bidirectional-override character"
                )
    return None

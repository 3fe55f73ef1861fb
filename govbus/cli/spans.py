"""Spans of time on the command line: 90s, 15m, 48h, 7d (one parser for every command)."""

from __future__ import annotations

import datetime as dt
import re

_SPAN = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def span(value: str) -> dt.timedelta | None:
    """The span, or None if ``value`` is not one."""
    match = _SPAN.match(value)
    if match is None:
        return None
    return dt.timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})

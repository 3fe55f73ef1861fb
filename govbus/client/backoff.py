"""How long to wait before the next try (pure): exponential with jitter, capped, and
never shorter than the server's ``Retry-After`` on 429 and 503."""

from __future__ import annotations

import datetime as dt
import email.utils
import random
from collections.abc import Callable
from dataclasses import dataclass, field

RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
# Retry-After is honoured, but a broken or hostile value must not park a client for days.
MAX_RETRY_AFTER_S = 900.0


def retry_after_s(value: str | None, now: dt.datetime | None = None) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP-date (RFC 9110 10.2.3).
    None when absent or unreadable; never negative; at most MAX_RETRY_AFTER_S."""
    if value is None:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():
        return min(float(int(text)), MAX_RETRY_AFTER_S)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    seconds = (when - (now or dt.datetime.now(dt.UTC))).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


@dataclass(frozen=True)
class Backoff:
    """``delay(attempt)`` for the attempt-th consecutive failure (0-based)."""

    base_s: float = 0.5
    cap_s: float = 30.0
    jitter: Callable[[], float] = field(default=random.random, compare=False)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        ceiling = min(self.cap_s, self.base_s * 2.0 ** min(attempt, 32))
        # Half jitter: many clients that failed together do not come back together.
        wait = ceiling * (0.5 + 0.5 * float(self.jitter()))
        return max(wait, retry_after or 0.0)

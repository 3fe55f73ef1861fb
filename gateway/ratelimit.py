"""Per department, counted in Redis (shared by every gateway instance): a request rate per
minute and a request quota per day. Over either: 429 with Retry-After. ``limit`` counts
anything else the same way (disclosure reports per caller and per subject)."""

from __future__ import annotations

import time

import redis

from govbus.gateway.problems import Problem

MINUTE = 60
DAY = 86_400


class RateLimiter:
    def __init__(self, client: redis.Redis, per_minute: int, per_day: int | None = None) -> None:
        self.client = client
        self.per_minute = per_minute
        self.per_day = per_day

    def _count(self, *keys: tuple[str, int]) -> list[int]:
        """Increment each (key, window) counter; the counts after."""
        try:
            pipe = self.client.pipeline(transaction=False)
            for key, window in keys:
                pipe.incr(key)
                pipe.expire(key, 2 * window)
            return [int(n) for n in pipe.execute()[::2]]
        except redis.RedisError:
            raise Problem(
                503,
                "rate-limiter-unavailable",
                "cannot check the rate limit; try again shortly",
                headers={"Retry-After": "5"},
            ) from None

    def limit(self, name: str, limit: int, window_s: int, *, code: str, detail: str) -> None:
        """At most ``limit`` of ``name`` per fixed window of ``window_s``; 429 beyond."""
        now = time.time()
        (count,) = self._count((f"govbus:limit:{name}:{int(now // window_s)}", window_s))
        _enforce(count, limit, window_s, now, code=code, detail=detail)

    def check(self, department: str) -> None:
        now = time.time()
        this_minute, today = self._count(
            (f"govbus:ratelimit:{department}:{int(now // MINUTE)}", MINUTE),
            (f"govbus:quota:{department}:{int(now // DAY)}", DAY),
        )
        if self.per_day is not None:
            _enforce(
                int(today),
                self.per_day,
                DAY,
                now,
                code="quota-exceeded",
                detail=f"the daily quota of {self.per_day} requests is used up",
            )
        _enforce(
            int(this_minute),
            self.per_minute,
            MINUTE,
            now,
            code="rate-limited",
            detail=f"more than {self.per_minute} requests this minute",
        )


def _enforce(count: int, limit: int, window_s: int, now: float, *, code: str, detail: str) -> None:
    """429 with Retry-After = the rest of the fixed window, when ``count`` is over ``limit``."""
    if count > limit:
        retry = window_s - int(now) % window_s
        raise Problem(429, code, detail, headers={"Retry-After": str(max(retry, 1))})

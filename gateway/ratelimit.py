"""Per department, counted in Redis (shared by every gateway instance): a request rate per
minute and a request quota per day. Over either: 429 with Retry-After."""

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

    def check(self, department: str) -> None:
        now = time.time()
        minute_key = f"govbus:ratelimit:{department}:{int(now // MINUTE)}"
        day_key = f"govbus:quota:{department}:{int(now // DAY)}"
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.incr(minute_key)
            pipe.expire(minute_key, 2 * MINUTE)
            pipe.incr(day_key)
            pipe.expire(day_key, 2 * DAY)
            this_minute, _, today, _ = pipe.execute()
        except redis.RedisError:
            raise Problem(
                503,
                "rate-limiter-unavailable",
                "cannot check the rate limit; try again shortly",
                headers={"Retry-After": "5"},
            ) from None
        if self.per_day is not None and int(today) > self.per_day:
            retry = DAY - int(now) % DAY
            raise Problem(
                429,
                "quota-exceeded",
                f"the daily quota of {self.per_day} requests is used up",
                headers={"Retry-After": str(max(retry, 1))},
            )
        if int(this_minute) > self.per_minute:
            retry = MINUTE - int(now) % MINUTE
            raise Problem(
                429,
                "rate-limited",
                f"more than {self.per_minute} requests this minute",
                headers={"Retry-After": str(max(retry, 1))},
            )

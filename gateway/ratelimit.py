"""Requests per department per minute, counted in Redis (shared by every gateway)."""

from __future__ import annotations

import time

import redis

from govbus.gateway.problems import Problem


class RateLimiter:
    def __init__(self, client: redis.Redis, per_minute: int) -> None:
        self.client = client
        self.per_minute = per_minute

    def check(self, department: str) -> None:
        window = int(time.time() // 60)
        key = f"govbus:ratelimit:{department}:{window}"
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.incr(key)
            pipe.expire(key, 120)
            count = int(pipe.execute()[0])
        except redis.RedisError:
            raise Problem(
                503,
                "rate-limiter-unavailable",
                "cannot check the rate limit; try again shortly",
                headers={"Retry-After": "5"},
            ) from None
        if count > self.per_minute:
            retry = 60 - int(time.time()) % 60
            raise Problem(
                429,
                "rate-limited",
                f"more than {self.per_minute} requests this minute",
                headers={"Retry-After": str(max(retry, 1))},
            )

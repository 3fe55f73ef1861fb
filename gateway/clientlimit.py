"""Before any credential is checked: a token bucket per client address, in memory, so a
flood of unauthenticated or badly authenticated requests is refused for the price of a dict
lookup (no Redis, no PostgreSQL). Per gateway instance: with N replicas behind a balancer a
client gets up to N times the rate; the per-department limits in Redis (ratelimit.py) still
bound what authenticated callers do in total."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

MAX_CLIENTS = 100_000  # addresses tracked at once; the least recently seen is forgotten


class ClientLimiter:
    def __init__(self, rate_per_s: float, burst: int, max_clients: int = MAX_CLIENTS) -> None:
        self.rate = rate_per_s
        self.burst = float(burst)
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, client: str, now: float | None = None) -> float:
        """0 if the request may go ahead (and take a token), else seconds until it may."""
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.pop(client, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            wait = 0.0
            if tokens >= 1:
                tokens -= 1
            else:
                wait = (1 - tokens) / self.rate
            self._buckets[client] = (tokens, now)
            if len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
        return wait

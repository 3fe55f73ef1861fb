"""Re-checking long-lived credentials, cheaply and without a gap.

An SSE stream must not send a delivery made after its key was revoked. A page read at time
P may be sent if the key was found valid by a check that *started* at or after P (the
database answered about a moment no earlier than that start, and every delivery in the page
was made before P). Streams of one key share those checks: with a hundred streams reading
the same window, one database query a page serves them all, and one in flight at a time."""

from __future__ import annotations

import asyncio
import time

from fastapi.concurrency import run_in_threadpool

from govbus.gateway.auth import Authenticator
from govbus.gateway.authority import Principal
from govbus.gateway.problems import Problem


class Rechecks:
    def __init__(self, auth: Authenticator) -> None:
        self.auth = auth
        self._valid_from: dict[str, float] = {}  # key id -> start of its last passed check
        self._locks: dict[str, asyncio.Lock] = {}

    async def ended(self, who: Principal, read_at: float) -> Problem | None:
        """Why ``who`` may no longer be served what was read at ``read_at`` (monotonic
        seconds), or None."""
        if who.key_id is None:  # a bearer token: its expiry, no IO
            return self.auth.still_valid(who)
        key = who.key_id
        if self._valid_from.get(key, float("-inf")) >= read_at:
            return None
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            if self._valid_from.get(key, float("-inf")) >= read_at:
                return None  # another stream's check, started after our read, passed
            started = time.monotonic()
            problem = await run_in_threadpool(self.auth.still_valid, who)
            if problem is None:
                self._valid_from[key] = max(started, self._valid_from.get(key, started))
            return problem

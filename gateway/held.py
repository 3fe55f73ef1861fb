"""Reads that wait -- a long-poll pull (``GET /v1/events?wait=``) and the SSE stream -- are
re-authorised while they wait, through this one path.

A wait is cut into slices of at most ``GOVBUS_STREAM_RECHECK_S``; between slices the
credential is checked again (recheck.py: past the key cache, shared by every wait of the
same key), and a page read after the request's own authentication is sent only once a check
that started after the read passed. A revoked key or an expired token so ends the wait
with its 401 within about one slice, and nothing read after the revocation leaves."""

from __future__ import annotations

import datetime as dt
import time

from govbus.gateway.authority import Principal
from govbus.gateway.consume import Consumption, Page
from govbus.gateway.recheck import Rechecks

# A read this soon after the request's own credential check counts as made at that check.
IMMEDIATE_S = 0.05


class HeldRead:
    """One request's reads of its caller's deliveries (one pull, or one stream's pages).

    ``strict``: re-check before every page with deliveries (a stream, whose pages are read
    long after its authentication); otherwise a page read at once, in the request's first
    slice, is sent as a plain pull's would be."""

    def __init__(
        self,
        consumption: Consumption,
        rechecks: Rechecks,
        who: Principal,
        *,
        every_s: float,
        strict: bool,
    ) -> None:
        self.consumption = consumption
        self.rechecks = rechecks
        self.who = who
        self.every_s = every_s
        self.strict = strict
        self.checked = time.monotonic()  # authenticated just now

    async def page(
        self,
        cursor: dict[int, int] | None,
        *,
        limit: int,
        wait_s: float,
        from_time: dt.datetime | None = None,
    ) -> Page:
        """The next page after ``cursor`` (empty once ``wait_s`` passed with nothing new).
        Raises the credential's Problem once it is revoked or expired."""
        started = time.monotonic()
        deadline = started + wait_s
        first = True
        while True:
            slice_s = max(0.0, min(deadline - time.monotonic(), self.every_s))
            page = await self.consumption.pull(
                self.who.department,
                cursor=cursor,
                limit=limit,
                wait_s=slice_s,
                from_time=from_time,
            )
            read_at = time.monotonic()
            # The credential was checked as the request came in: a first page read at once
            # needs no second check, but one that arrived while the pull waited might have
            # been made after a revocation.
            waited = read_at - started > IMMEDIATE_S
            unchecked = bool(page.events) and (self.strict or not first or waited)
            if unchecked or read_at - self.checked >= self.every_s:
                ended = await self.rechecks.ended(self.who, read_at)
                self.checked = read_at
                if ended is not None:
                    raise ended
            if page.events or read_at >= deadline:
                return page
            cursor, from_time, first = page.cursor, None, False

"""What the bus remembers about events in Redis: deduplication claims, and who received each
event (so a correction reaches exactly those departments).

The first message to carry an event identity claims it.

A claim's value is the claiming message's position (topic/partition/offset). A message that
meets its *own* claim is being reprocessed after a batch that did not commit, so it is not a
duplicate; a message that meets another message's claim is one. Claims expire after the
dedupe window. Redis being down raises, and the worker retries: it never skips the check.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Protocol

import redis

from govbus.streams.messages import Recipients


class DedupeStore(Protocol):
    def claim(self, keys: Sequence[str], owner: Sequence[str]) -> list[str | None]:
        """For each key: None if ``owner`` holds the claim now, else the other claimant."""
        ...

    def remember(self, recipients: Mapping[str, Recipients]) -> None:
        """Record who received each event (keyed by ``source:event id``); idempotent."""
        ...

    def recipients(self, events: Sequence[str]) -> list[Recipients | None]:
        """What ``remember`` recorded for each ``source:event id``; None if unknown."""
        ...


class RedisDedupe:
    def __init__(
        self, client: redis.Redis, namespace: str, window_s: int, correction_window_s: int = 0
    ) -> None:
        self.client = client
        self.namespace = namespace
        self.window_s = window_s
        self.correction_window_s = correction_window_s or window_s

    def remember(self, recipients: Mapping[str, Recipients]) -> None:
        if not recipients:
            return
        pipe = self.client.pipeline(transaction=False)
        for event, got in recipients.items():
            value = json.dumps({"type": got.event_type, "subscriptions": list(got.subscriptions)})
            pipe.set(
                f"govbus:{self.namespace}:recipients:{event}", value, ex=self.correction_window_s
            )
        pipe.execute()

    def recipients(self, events: Sequence[str]) -> list[Recipients | None]:
        if not events:
            return []
        raw = self.client.mget([f"govbus:{self.namespace}:recipients:{e}" for e in events])
        out: list[Recipients | None] = []
        for value in raw:
            if value is None:
                out.append(None)
                continue
            data = json.loads(value)
            out.append(Recipients(str(data["type"]), tuple(data["subscriptions"])))
        return out

    def key(self, identity: str) -> str:
        return f"govbus:{self.namespace}:dedupe:{identity}"

    def claim(self, keys: Sequence[str], owner: Sequence[str]) -> list[str | None]:
        full = [self.key(k) for k in keys]
        pipe = self.client.pipeline(transaction=False)
        for key, who in zip(full, owner, strict=True):
            pipe.set(key, who, nx=True, ex=self.window_s)
        created = pipe.execute()
        lost = [i for i, ok in enumerate(created) if not ok]
        holders: list[str | None] = [None] * len(full)
        if lost:
            pipe = self.client.pipeline(transaction=False)
            for i in lost:
                pipe.get(full[i])
            for i, value in zip(lost, pipe.execute(), strict=True):
                holder = value.decode() if isinstance(value, bytes) else value
                holders[i] = None if holder in (None, owner[i]) else str(holder)
        return holders


class UnpipelinedRedisDedupe(RedisDedupe):
    """One round trip per command: kept only so the benchmark can measure pipelining."""

    def claim(self, keys: Sequence[str], owner: Sequence[str]) -> list[str | None]:
        out: list[str | None] = []
        for identity, who in zip(keys, owner, strict=True):
            key = self.key(identity)
            if self.client.set(key, who, nx=True, ex=self.window_s):
                out.append(None)
                continue
            value = self.client.get(key)
            holder = value.decode() if isinstance(value, bytes) else value
            out.append(None if holder in (None, who) else str(holder))
        return out


class InMemoryDedupe:
    """The same semantics in dicts, for one process only: unit tests of the batch logic and
    the profiler. Never for workers (claims must be shared and survive restarts)."""

    def __init__(self) -> None:
        self.claims: dict[str, str] = {}
        self.received: dict[str, Recipients] = {}

    def claim(self, keys: Sequence[str], owner: Sequence[str]) -> list[str | None]:
        out: list[str | None] = []
        for key, who in zip(keys, owner, strict=True):
            holder = self.claims.setdefault(key, who)
            out.append(None if holder == who else holder)
        return out

    def remember(self, recipients: Mapping[str, Recipients]) -> None:
        self.received.update(recipients)

    def recipients(self, events: Sequence[str]) -> list[Recipients | None]:
        return [self.received.get(e) for e in events]

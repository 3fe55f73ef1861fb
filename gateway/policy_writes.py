"""Admin writes to the policy topic as compare-and-set: no approval, rejection or
revocation is lost to a concurrent write of the same entry.

The policy topic (Kafka, compacted) has no conditional write, so writers of one entry take
turns: each write holds a PostgreSQL transaction-scoped advisory lock on the entry's key
(across every gateway instance), reads the entry's current state *under the lock* (the
previous holder's write was acknowledged by all in-sync replicas before it let go, so the
read sees it), applies its change to that state and writes. Two providers approving
their parts at once both land; an approval racing a revocation either lands before it or
meets the revoked subscription (409). A client that wants optimistic concurrency sends
``If-Match`` with the entry's ETag (a digest of the stored record, so any change, from the
gateway or from ``govbus policy apply``, changes it): a stale one gets 412. A writer that
cannot get its turn within ``wait_s`` gets 409 ``write-conflict`` and retries.

The operator's ``govbus policy apply`` and ``govbus policy revoke`` take the same turns
(``overwrite`` holds the lock of every entry it writes), so a file applied while a
provider approves cannot overwrite the approval half-way, nor an approval the revoke."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from govbus import policy_store
from govbus.gateway.problems import Problem

E = TypeVar("E", bound=policy_store.Entry)
# Distinguishes these advisory locks from any other user of pg_advisory_xact_lock(int, int).
LOCK_CLASS = 0x67627573  # "gbus"


def lock_id(key: str) -> int:
    """A 32-bit lock id for an entry key (a collision only makes two keys take turns)."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big", signed=True)


def matches(if_match: str | None, current: policy_store.Entry | None) -> bool:
    """RFC 9110 If-Match: absent, ``*`` with an entry, or one of the listed ETags."""
    if if_match is None:
        return True
    if current is None:
        return False
    tags = {t.strip().removeprefix("W/") for t in if_match.split(",")}
    return "*" in tags or policy_store.etag(current) in tags


class PolicyWriter:
    """Serialised read-change-write of single policy entries (one pool per gateway)."""

    def __init__(
        self, dsn: str, bootstrap: str, policy_topic: str, *, wait_s: float, pool_size: int = 4
    ) -> None:
        self.bootstrap = bootstrap
        self.policy_topic = policy_topic
        self.wait_s = wait_s
        self._pool = ConnectionPool(
            dsn, min_size=1, max_size=pool_size, open=True, name="govbus-policy-writes"
        )

    def close(self) -> None:
        self._pool.close()

    def update(
        self,
        key: str,
        kind: type[E],
        change: Callable[[E | None], E],
        *,
        if_match: str | None = None,
    ) -> E:
        """Write ``change(current)`` for entry ``key`` unless another write came between
        (blocking: run it in a worker thread). ``change`` sees the entry as stored now, or
        None, and raises a Problem to refuse."""
        with self._turn([key]):
            current = self._current(key, kind)
            if not matches(if_match, current):
                raise Problem(
                    412,
                    "precondition-failed",
                    f"{key} changed since you read it (If-Match {if_match}); "
                    "read it again and retry",
                )
            changed = change(current)
            policy_store.write(self.bootstrap, self.policy_topic, [changed])
            return changed

    def overwrite(self, entries: Sequence[policy_store.Entry], deletions: Sequence[str]) -> int:
        """Write whole entries (and tombstones) as given, each in its turn: the operator's
        file wins, but never lands inside another writer's read-change-write."""
        keys = [policy_store.entry_key(e) for e in entries] + list(deletions)
        with self._turn(keys):
            return policy_store.write(self.bootstrap, self.policy_topic, entries, deletions)

    @contextmanager
    def _turn(self, keys: Sequence[str]) -> Iterator[None]:
        """Hold the locks of ``keys`` for the block (one transaction). Taken in one global
        order, so two writers of several entries cannot deadlock."""
        try:
            with self._pool.connection(timeout=self.wait_s) as conn, conn.transaction():
                conn.execute(
                    "SELECT set_config('lock_timeout', %s, true)", (f"{int(self.wait_s * 1000)}ms",)
                )
                for lock in sorted({lock_id(k) for k in keys}):
                    conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCK_CLASS, lock))
                yield
        except (psycopg.errors.LockNotAvailable, PoolTimeout):
            raise self._contended(", ".join(keys[:3]) + (" ..." if len(keys) > 3 else "")) from None

    def _current(self, key: str, kind: type[E]) -> E | None:
        doc = policy_store.read(self.bootstrap, self.policy_topic)
        for entry in policy_store.entries(doc):
            if policy_store.entry_key(entry) == key and isinstance(entry, kind):
                return entry
        return None

    def _contended(self, key: str) -> Problem:
        return Problem(
            409,
            "write-conflict",
            f"other changes to {key} are in progress; retry",
            headers={"Retry-After": "1"},
        )

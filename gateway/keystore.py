"""API keys in PostgreSQL, stored only as keyed hashes. A key is shown once, at issue:
``gbk_<key id>_<secret>``; rotation = issue a new key, then revoke the old one.

The gateway checks a key on every request, so there the store uses a connection pool
(``open_pool``) and remembers answers briefly: a refused key for ``negative_ttl_s`` (a
flood of bad keys costs no database work; bounded in size), an accepted one for
``positive_ttl_s`` (so a revocation elsewhere takes effect within that many seconds).
``is_active`` always asks the database: long-lived streams use it."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from govbus.gateway.authority import ROLES
from govbus.schemas.topics import check_party_id

NEGATIVE_MAX = 10_000  # refused keys remembered at once (oldest forgotten first)
_DDL = """
CREATE TABLE IF NOT EXISTS gateway_api_keys (
    key_id     text PRIMARY KEY,
    key_hash   text NOT NULL,
    department text NOT NULL,
    roles      text[] NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
)
"""


@dataclass(frozen=True)
class KeyRecord:
    key_id: str
    department: str
    roles: tuple[str, ...]
    revoked: bool


class KeyStore:
    def __init__(
        self,
        dsn: str,
        pepper: bytes,
        *,
        positive_ttl_s: float = 0.0,
        negative_ttl_s: float = 0.0,
    ) -> None:
        self.dsn = dsn
        self.pepper = pepper
        self.positive_ttl_s = positive_ttl_s
        self.negative_ttl_s = negative_ttl_s
        self.lookups = 0  # database lookups by verify (tests and metrics read it)
        self._pool: ConnectionPool | None = None
        self._lock = threading.Lock()
        self._accepted: dict[str, tuple[float, str, KeyRecord]] = {}
        self._refused: OrderedDict[str, float] = OrderedDict()

    def open_pool(self, max_size: int = 8) -> None:
        """Serve lookups from a pool (the gateway); without it each call connects."""
        self._pool = ConnectionPool(
            self.dsn, min_size=1, max_size=max_size, open=True, name="govbus-keys"
        )

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    @contextmanager
    def _conn(self) -> Iterator[psycopg.Connection[Any]]:
        if self._pool is not None:
            with self._pool.connection() as conn:
                yield conn
        else:
            with psycopg.connect(self.dsn) as conn:
                yield conn

    def init(self) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(_DDL)

    def _hash(self, secret: str) -> str:
        return hmac.new(self.pepper, secret.encode(), hashlib.sha256).hexdigest()

    def issue(self, department: str, roles: list[str]) -> str:
        check_party_id(department)
        unknown = set(roles) - ROLES
        if unknown or not roles:
            raise ValueError(f"roles must be some of {sorted(ROLES)}")
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        with self._conn() as conn:
            conn.execute(
                "INSERT INTO gateway_api_keys (key_id, key_hash, department, roles)"
                " VALUES (%s, %s, %s, %s)",
                (key_id, self._hash(secret), department, sorted(roles)),
            )
        return f"gbk_{key_id}_{secret}"

    def revoke(self, key_id: str) -> bool:
        with self._conn() as conn:
            cur = conn.execute(
                "UPDATE gateway_api_keys SET revoked_at = %s WHERE key_id = %s"
                " AND revoked_at IS NULL",
                (dt.datetime.now(dt.UTC), key_id),
            )
            done = cur.rowcount == 1
        with self._lock:
            self._accepted.pop(key_id, None)
        return done

    def department_of(self, key_id: str) -> str | None:
        """The department a key (revoked or not) belongs to; None if there is no such key."""
        with self._conn() as conn:
            row = conn.execute(
                "SELECT department FROM gateway_api_keys WHERE key_id = %s", (key_id,)
            ).fetchone()
        return None if row is None else str(row[0])

    def is_active(self, key_id: str) -> bool:
        """Is the key still unrevoked? Always asks the database (no cache)."""
        with self._conn() as conn:
            row = conn.execute(
                "SELECT revoked_at IS NULL FROM gateway_api_keys WHERE key_id = %s", (key_id,)
            ).fetchone()
        return bool(row and row[0])

    def verify(self, presented: str) -> KeyRecord | None:
        """The key's record if the presented key is genuine (check ``revoked``), else None."""
        parts = presented.split("_", 2)
        if len(parts) != 3 or parts[0] != "gbk" or len(presented) > 200:
            return None
        key_id, secret = parts[1], parts[2]
        hashed, now = self._hash(secret), time.monotonic()
        fingerprint = f"{key_id}:{hashed}"
        with self._lock:
            accepted = self._accepted.get(key_id)
            if accepted is not None and now - accepted[0] < self.positive_ttl_s:
                return accepted[2] if hmac.compare_digest(accepted[1], hashed) else None
            refused_at = self._refused.get(fingerprint)
            if refused_at is not None and now - refused_at < self.negative_ttl_s:
                return None
        self.lookups += 1
        with self._conn() as conn:
            row = conn.execute(
                "SELECT key_hash, department, roles, revoked_at FROM"
                " gateway_api_keys WHERE key_id = %s",
                (key_id,),
            ).fetchone()
        if row is None or not hmac.compare_digest(row[0], hashed):
            self._remember_refused(fingerprint, now)
            return None
        record = KeyRecord(key_id, row[1], tuple(row[2]), row[3] is not None)
        if self.positive_ttl_s > 0:
            with self._lock:
                if len(self._accepted) >= NEGATIVE_MAX:  # bounded too: forget the stale
                    self._accepted = {
                        k: v for k, v in self._accepted.items() if now - v[0] < self.positive_ttl_s
                    }
                self._accepted[key_id] = (now, row[0], record)
        return record

    def _remember_refused(self, fingerprint: str, now: float) -> None:
        if self.negative_ttl_s <= 0:
            return
        with self._lock:
            self._refused[fingerprint] = now
            self._refused.move_to_end(fingerprint)
            while len(self._refused) > NEGATIVE_MAX:
                self._refused.popitem(last=False)

    def all_keys(
        self, department: str | None = None
    ) -> list[tuple[str, str, list[str], dt.datetime, dt.datetime | None]]:
        """Every key (or one department's), never the secrets."""
        query = "SELECT key_id, department, roles, created_at, revoked_at FROM gateway_api_keys"
        params: tuple[str, ...] = ()
        if department is not None:
            query += " WHERE department = %s"
            params = (department,)
        with self._conn() as conn:
            return [tuple(r) for r in conn.execute(query + " ORDER BY created_at", params)]

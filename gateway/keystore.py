"""API keys in PostgreSQL, stored only as keyed hashes. A key is shown once, at issue:
``gbk_<key id>_<secret>``; rotation = issue a new key, then revoke the old one."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

import psycopg

from govbus.schemas.topics import check_party_id

ROLES = frozenset({"subscriber", "publisher", "admin", "citizen_portal"})
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
    def __init__(self, dsn: str, pepper: bytes) -> None:
        self.dsn = dsn
        self.pepper = pepper

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
        with psycopg.connect(self.dsn) as conn:
            conn.execute(
                "INSERT INTO gateway_api_keys (key_id, key_hash, department, roles)"
                " VALUES (%s, %s, %s, %s)",
                (key_id, self._hash(secret), department, sorted(roles)),
            )
        return f"gbk_{key_id}_{secret}"

    def revoke(self, key_id: str) -> bool:
        with psycopg.connect(self.dsn) as conn:
            cur = conn.execute(
                "UPDATE gateway_api_keys SET revoked_at = %s WHERE key_id = %s"
                " AND revoked_at IS NULL",
                (dt.datetime.now(dt.UTC), key_id),
            )
            return cur.rowcount == 1

    def verify(self, presented: str) -> KeyRecord | None:
        """The key's record if the presented key is valid and not revoked, else None."""
        parts = presented.split("_", 2)
        if len(parts) != 3 or parts[0] != "gbk" or len(presented) > 200:
            return None
        key_id, secret = parts[1], parts[2]
        with psycopg.connect(self.dsn) as conn:
            row = conn.execute(
                "SELECT key_hash, department, roles, revoked_at FROM"
                " gateway_api_keys WHERE key_id = %s",
                (key_id,),
            ).fetchone()
        if row is None or not hmac.compare_digest(row[0], self._hash(secret)):
            return None
        return KeyRecord(key_id, row[1], tuple(row[2]), row[3] is not None)

    def all_keys(self) -> list[tuple[str, str, list[str], dt.datetime, dt.datetime | None]]:
        with psycopg.connect(self.dsn) as conn:
            return [
                tuple(r)
                for r in conn.execute(
                    "SELECT key_id, department, roles, created_at, revoked_at FROM"
                    " gateway_api_keys ORDER BY created_at"
                ).fetchall()
            ]

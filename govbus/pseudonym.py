"""Keyed pseudonyms (HMAC-SHA256): the subject key for partitioning, and per-subscriber
pseudonyms so two subscribers' copies of one person cannot be joined.

Keys are derived from a master key and carry its key id, so keys can be rotated:
a pseudonym names the key id it was made with.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from functools import lru_cache

from govbus.config import KeySettings


def _b32(digest: bytes, chars: int = 26) -> str:
    return base64.b32encode(digest).decode().rstrip("=").lower()[:chars]


@lru_cache(maxsize=1024)
def derive_key(master: bytes, purpose: str, key_id: str) -> bytes:
    return hmac.new(master, f"govbus:{purpose}:{key_id}".encode(), hashlib.sha256).digest()


def pseudonym(key: bytes, key_id: str, kind: str, value: str) -> str:
    digest = hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).digest()
    return f"{key_id}.{_b32(digest)}"


class Pseudonymizer:
    """Makes subject keys (bus-wide) and subscriber pseudonyms (one key per subscriber)."""

    def __init__(self, keys: KeySettings) -> None:
        self._subject_master = keys.subject_key.get_secret_value().encode()
        self._master = keys.pseudonym_key.get_secret_value().encode()
        self.key_id = keys.pseudonym_key_id

    def subject(self, kind: str, value: str) -> str:
        key = derive_key(self._subject_master, "subject", self.key_id)
        return pseudonym(key, self.key_id, kind, value)

    def for_subscriber(self, subscriber: str, kind: str, value: str) -> str:
        key = derive_key(self._master, f"subscriber:{subscriber}", self.key_id)
        return pseudonym(key, self.key_id, kind, value)

"""Keyed pseudonyms (HMAC-SHA256): the bus-wide subject pseudonym (audit, disclosure index),
per-subscriber pseudonyms so two subscribers' copies of one person cannot be joined, and the
delivery ids, keyed for the same reason.

Only the bus holds these keys. Publishers never compute a subject: the worker derives it
from the record itself, so what a publisher claims cannot redirect audit or disclosures.

Keys are derived from a master key and carry its key id, so keys can be rotated:
a pseudonym names the key id it was made with.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from govbus.config import KeySettings
from govbus.schemas.catalogue import EventType
from govbus.schemas.projection import CLEAR

_B32 = "abcdefghijklmnopqrstuvwxyz234567"
# Two base32 characters per 10 bits: the standard library's b32encode is a Python loop, and
# a worker makes a pseudonym for every masked identifier of every delivery.
_B32_PAIRS = tuple(a + b for a in _B32 for b in _B32)
_PSEUDONYM_CHARS = 26  # 130 bits of the HMAC


def _b32(digest: bytes) -> str:
    """The first 26 characters of the lower-case base32 of ``digest`` (RFC 4648)."""
    bits = int.from_bytes(digest[:17]) >> 6  # the first 130 bits
    return "".join(_B32_PAIRS[(bits >> shift) & 0x3FF] for shift in range(120, -1, -10))


@lru_cache(maxsize=1024)
def derive_key(master: bytes, purpose: str, key_id: str) -> bytes:
    return hmac.digest(master, f"govbus:{purpose}:{key_id}".encode(), "sha256")


def pseudonym(key: bytes, key_id: str, kind: str, value: str) -> str:
    return f"{key_id}.{_b32(hmac.digest(key, f'{kind}:{value}'.encode(), 'sha256'))}"


class Pseudonymizer:
    """Makes subject pseudonyms (bus-wide) and subscriber pseudonyms (a key per subscriber)."""

    def __init__(self, keys: KeySettings) -> None:
        self._subject_master = keys.subject_key.get_secret_value().encode()
        self._master = keys.pseudonym_key.get_secret_value().encode()
        self._delivery_key = keys.delivery_id_key.get_secret_value().encode()
        self.key_id = keys.pseudonym_key_id

    def subject(self, kind: str, value: str) -> str:
        key = derive_key(self._subject_master, "subject", self.key_id)
        return pseudonym(key, self.key_id, kind, value)

    def subject_of(self, event: EventType, record: Mapping[str, Any]) -> str:
        """The subject pseudonym of an event, from its own record; "" when the record does not
        name its subject in clear (a peer sent the field masked or not at all): then this
        bus cannot know whose it is, and nothing is indexed under a guess."""
        value = record.get(event.subject_field)
        if value is None:
            return ""
        if (
            event.received_rules is not None
            and event.received_rules.get(event.subject_field) != CLEAR
        ):
            return ""
        return self.subject(event.subject_kind, str(value))

    def for_subscriber(self, subscriber: str, kind: str, value: str) -> str:
        key = derive_key(self._master, f"subscriber:{subscriber}", self.key_id)
        return pseudonym(key, self.key_id, kind, value)

    def delivery_id(self, subscriber: str, source: str, event_id: str) -> str:
        """The id a subscriber sees for an event: the one place it is made.

        Deterministic, because much depends on it: a redelivery repeats it, a correction
        names the recipient's own id of the original, a federated peer uses it as its event
        id (and dedupes a re-read by it), and the disclosure index and reconciliation match
        deliveries by it. Keyed, so no department can compute another's id of an event (as
        it could with a plain hash of the event id) and join their copies on it. Shaped as a
        UUID (version 8, RFC 9562) so every reader of ids keeps working.
        """
        message = f"govbus:delivery:{subscriber}|{source}|{event_id}".encode()
        raw = bytearray(hmac.digest(self._delivery_key, message, "sha256")[:16])
        raw[6] = (raw[6] & 0x0F) | 0x80  # version 8: custom
        raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 9562 variant
        h = raw.hex()  # str(uuid.UUID(bytes=raw)), without building the UUID
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

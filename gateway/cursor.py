"""Cursors: where a subscriber is in its delivery topic (next offset per partition), as an
opaque URL-safe token. Pure; a malformed token is a clear client error."""

from __future__ import annotations

import base64
import binascii
import json


class CursorError(ValueError):
    """The cursor is not one the gateway issued."""


def encode(positions: dict[int, int]) -> str:
    body = json.dumps({str(p): o for p, o in sorted(positions.items())}, separators=(",", ":"))
    return base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")


def decode(token: str, partitions: int) -> dict[int, int]:
    if len(token) > 4096:
        raise CursorError("cursor too long")
    try:
        raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise CursorError("cursor is not valid") from None
    if not isinstance(raw, dict):
        raise CursorError("cursor is not valid")
    out: dict[int, int] = {}
    for key, value in raw.items():
        if not (isinstance(key, str) and key.isdigit() and isinstance(value, int)):
            raise CursorError("cursor is not valid")
        if not 0 <= int(key) < partitions or value < 0:
            raise CursorError("cursor names a partition or offset that does not exist")
        out[int(key)] = value
    return out

"""The console's session: a signed cookie naming the key a person logged in with, and the
CSRF token its forms carry. Pure functions; the secret is handed in.

The cookie holds no secret (the API key itself never leaves the login request): the key id,
its department and roles, when the session ends, and a random nonce, signed with HMAC-SHA256
under a key derived from the gateway's pepper. Any gateway instance can check it (the gateway
stays stateless); every request still asks the key store whether the key was revoked since.
The CSRF token is an HMAC of the session's nonce, so it is bound to one session and cannot
be made without the secret; forms send it back in a hidden field (the cookie is also
SameSite=Strict, so another site's form does not carry it in the first place).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

from govbus.gateway.authority import Principal

COOKIE = "govbus_console"
LOGIN_COOKIE = "govbus_console_login"  # the login form's own CSRF nonce (before a session)
CSRF_FIELD = "csrf"


def derive_secret(pepper: bytes) -> bytes:
    """The console's signing key, derived from (never equal to) the API key pepper."""
    return hmac.new(pepper, b"govbus-console-session-v1", hashlib.sha256).digest()


@dataclass(frozen=True)
class Session:
    department: str
    roles: frozenset[str]
    key_id: str
    bureau: bool
    expires_at: float
    nonce: str

    def principal(self) -> Principal:
        return Principal(
            self.department,
            self.roles,
            f"key:{self.key_id}",
            bureau=self.bureau,
            key_id=self.key_id,
        )


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: bytes, label: bytes, payload: bytes) -> str:
    return _b64(hmac.new(secret, label + b"|" + payload, hashlib.sha256).digest())


def new_session(who: Principal, secret: bytes, now: float, ttl_s: float) -> tuple[str, Session]:
    """The cookie value for ``who`` (logged in with an API key), and the session it holds."""
    if who.key_id is None:
        raise ValueError("console sessions start from an API key")
    session = Session(
        who.department,
        who.roles,
        who.key_id,
        who.bureau,
        now + ttl_s,
        secrets.token_urlsafe(16),
    )
    body = json.dumps(
        {
            "d": session.department,
            "r": sorted(session.roles),
            "k": session.key_id,
            "b": session.bureau,
            "e": session.expires_at,
            "n": session.nonce,
        },
        separators=(",", ":"),
    ).encode()
    return f"{_b64(body)}.{_sign(secret, b'session', body)}", session


def read_session(cookie: str | None, secret: bytes, now: float) -> Session | None:
    """The session of a cookie this gateway signed and that has not expired; else None."""
    if not cookie or cookie.count(".") != 1 or len(cookie) > 4096:
        return None
    body_b64, signature = cookie.split(".")
    try:
        body = _unb64(body_b64)
    except ValueError:
        return None
    if not hmac.compare_digest(signature.encode(), _sign(secret, b"session", body).encode()):
        return None
    try:
        raw = json.loads(body)
        session = Session(
            str(raw["d"]),
            frozenset(str(r) for r in raw["r"]),
            str(raw["k"]),
            bool(raw["b"]),
            float(raw["e"]),
            str(raw["n"]),
        )
    except (ValueError, KeyError, TypeError):
        return None
    return session if now < session.expires_at else None


def csrf_token(session: Session, secret: bytes) -> str:
    return _sign(secret, b"csrf", session.nonce.encode())


def csrf_ok(session: Session, secret: bytes, given: str | None) -> bool:
    expected = csrf_token(session, secret).encode()
    return given is not None and hmac.compare_digest(given.encode(), expected)

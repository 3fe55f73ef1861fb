"""The citizen's own word, per request: a disclosure report is answered only for the
identifiers a signed assertion names. The citizen portal's login service signs it (a short
JWT, RS256/ES256, with the public keys configured in the gateway) after the citizen logged
in; the gateway checks signature, issuer, audience, a short lifetime and a fresh ``jti``
(each assertion is accepted once: Redis remembers it until it expires).

Claims: ``sub`` is the citizen's ID; ``govbus_ids`` optionally lists further identifiers
the login service vouches the citizen may ask about (a child's birth certificate number, an
enterprise the citizen represents)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import redis

from govbus.gateway.auth import LEEWAY_S, decode_signed
from govbus.gateway.problems import Problem

MAX_IDS = 20


def refused(code: str, detail: str) -> Problem:
    return Problem(401, code, detail)


@dataclass(frozen=True)
class Asserted:
    identifiers: frozenset[str]
    jti: str


class CitizenAssertions:
    def __init__(
        self,
        keys: list[Path],
        issuer: str | None,
        audience: str,
        max_age_s: int,
        replays: redis.Redis,
    ) -> None:
        self.keys: list[Any] = [p.read_text() for p in keys]
        self.issuer = issuer
        self.audience = audience
        self.max_age_s = max_age_s
        self.replays = replays

    def verify(self, token: str) -> Asserted:
        """The identifiers the citizen may ask about, or 401 (and the assertion is spent)."""
        if not self.keys:
            raise refused("invalid-assertion", "citizen assertions are not configured here")
        try:
            claims = decode_signed(
                token,
                self.keys,
                audience=self.audience,
                issuer=self.issuer,
                required=["exp", "iat", "sub", "aud", "jti"],
            )
        except jwt.PyJWTError as exc:
            raise refused("invalid-assertion", type(exc).__name__) from None
        if claims is None:
            raise refused("invalid-assertion", "bad signature")
        lifetime = float(claims["exp"]) - float(claims["iat"])
        if lifetime > self.max_age_s:
            raise refused("invalid-assertion", f"an assertion lives at most {self.max_age_s}s")
        extra = claims.get("govbus_ids", [])
        if not isinstance(extra, list) or len(extra) > MAX_IDS:
            raise refused("invalid-assertion", f"govbus_ids: a list of at most {MAX_IDS}")
        jti = str(claims["jti"])[:128]
        self._spend(jti, float(claims["exp"]))
        return Asserted(frozenset({str(claims["sub"]), *map(str, extra)}), jti)

    def _spend(self, jti: str, exp: float) -> None:
        ttl = max(1, int(exp - time.time()) + LEEWAY_S + 1)
        try:
            fresh = self.replays.set(f"govbus:assertion:{jti}", b"1", nx=True, ex=ttl)
        except redis.RedisError:
            raise Problem(
                503,
                "replay-store-unavailable",
                "cannot check the assertion is fresh; try again shortly",
                headers={"Retry-After": "5"},
            ) from None
        if not fresh:
            raise refused("assertion-replayed", "this assertion was used already")

"""Who is calling: an API key (``X-API-Key`` or ``Authorization: ApiKey ...``) or an OAuth2
bearer JWT (RS256/ES256 only, verified against configured public keys, with expiry,
not-before, issuer and audience). Either way: a department and its roles."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import jwt

from govbus.gateway.authority import ROLES, Principal
from govbus.gateway.keystore import KeyStore
from govbus.gateway.problems import Problem
from govbus.schemas.topics import check_party_id

ALGORITHMS = ["RS256", "ES256"]
LEEWAY_S = 30  # clock skew allowed on exp/nbf; a stream ends when a request would be refused
__all__ = ["ALGORITHMS", "Authenticator", "Principal", "decode_signed", "unauthorized"]


def decode_signed(
    token: str, keys: list[Any], *, audience: str, issuer: str | None, required: list[str]
) -> dict[str, Any] | None:
    """The claims of ``token`` if one of ``keys`` signed it, None if none did. Any other
    fault (expired, wrong audience or issuer, a missing claim) raises jwt.PyJWTError."""
    for key in keys:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=ALGORITHMS,
                audience=audience,
                issuer=issuer,
                options={"require": required},
                leeway=LEEWAY_S,
            )
        except jwt.InvalidSignatureError:
            continue
        return claims
    return None


def unauthorized(detail: str) -> Problem:
    return Problem(401, "unauthorized", detail, headers={"WWW-Authenticate": "Bearer, ApiKey"})


class Authenticator:
    def __init__(
        self,
        keys: KeyStore,
        jwt_keys: list[Path],
        issuer: str | None,
        audience: str,
        jwks_url: str | None = None,
        *,
        bureau: str = "data_bureau",
    ) -> None:
        self.keys = keys
        self.bureau = bureau
        self.jwt_keys: list[Any] = [p.read_text() for p in jwt_keys]
        self.jwks = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=300) if jwks_url else None
        self.issuer = issuer
        self.audience = audience

    def authenticate(self, authorization: str | None, api_key: str | None) -> Principal:
        if api_key is None and authorization and authorization.startswith("ApiKey "):
            api_key = authorization.removeprefix("ApiKey ").strip()
        if api_key:
            record = self.keys.verify(api_key)
            if record is None or record.revoked:
                raise unauthorized("the API key is not valid")
            return Principal(
                record.department,
                frozenset(record.roles),
                f"key:{record.key_id}",
                bureau=record.department == self.bureau,
                key_id=record.key_id,
            )
        if authorization and authorization.startswith("Bearer "):
            return self._jwt(authorization.removeprefix("Bearer ").strip())
        raise unauthorized("send an API key (X-API-Key) or a bearer token")

    def _candidate_keys(self, token: str) -> list[Any]:
        keys = list(self.jwt_keys)
        if self.jwks is not None:
            try:
                keys.append(self.jwks.get_signing_key_from_jwt(token).key)
            except jwt.PyJWKClientError as exc:
                raise unauthorized(
                    f"the bearer token's key is unknown: {type(exc).__name__}"
                ) from None
            except jwt.PyJWTError as exc:
                raise unauthorized(f"the bearer token is not valid: {type(exc).__name__}") from None
        return keys

    def _jwt(self, token: str) -> Principal:
        if not self.jwt_keys and self.jwks is None:
            raise unauthorized("bearer tokens are not accepted here")
        try:
            claims = decode_signed(
                token,
                self._candidate_keys(token),
                audience=self.audience,
                issuer=self.issuer,
                required=["exp", "sub", "aud"],
            )
        except jwt.PyJWTError as exc:
            raise unauthorized(f"the bearer token is not valid: {type(exc).__name__}") from None
        if claims is None:
            raise unauthorized("the bearer token is not valid: bad signature")
        department = str(claims.get("department", claims["sub"]))
        try:
            check_party_id(department)
        except ValueError:
            raise unauthorized("the bearer token names no valid department") from None
        roles = frozenset(r for r in claims.get("roles", []) if r in ROLES)
        return Principal(
            department,
            roles,
            f"jwt:{claims['sub']}",
            bureau=department == self.bureau,
            expires_at=float(claims["exp"]) + LEEWAY_S,
        )

    def still_valid(self, who: Principal) -> Problem | None:
        """Why a credential accepted earlier is no longer good (None: it still is). Asks the
        key store directly, past its cache: long-lived streams call this between pages."""
        if who.expires_at is not None and time.time() >= who.expires_at:
            return Problem(401, "credential-expired", "the bearer token has expired")
        if who.key_id is not None and not self.keys.is_active(who.key_id):
            return Problem(401, "credential-revoked", "the API key was revoked")
        return None

"""Who is calling: an API key (``X-API-Key`` or ``Authorization: ApiKey ...``) or an OAuth2
bearer JWT (RS256/ES256 only, verified against configured public keys, with expiry,
not-before, issuer and audience). Either way: a department and its roles."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt

from govbus.gateway.keystore import ROLES, KeyStore
from govbus.gateway.problems import Problem
from govbus.schemas.topics import check_party_id

ALGORITHMS = ["RS256", "ES256"]


@dataclass(frozen=True)
class Principal:
    department: str
    roles: frozenset[str]
    credential: str  # key id or JWT subject, for audit

    def require(self, role: str) -> None:
        if role not in self.roles:
            raise Problem(403, "forbidden", f"this credential lacks the {role} role")


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
    ) -> None:
        self.keys = keys
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
            return Principal(record.department, frozenset(record.roles), f"key:{record.key_id}")
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
        claims = None
        for key in self._candidate_keys(token):
            try:
                claims = jwt.decode(
                    token,
                    key,
                    algorithms=ALGORITHMS,
                    audience=self.audience,
                    issuer=self.issuer,
                    options={"require": ["exp", "sub", "aud"]},
                    leeway=30,
                )
                break
            except jwt.InvalidSignatureError:
                continue
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
        return Principal(department, roles, f"jwt:{claims['sub']}")

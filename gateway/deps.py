"""Request dependencies: the services, who is calling (authenticated, rate limited), roles."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request

from govbus.adapters.publisher import Publisher
from govbus.config import GatewaySettings
from govbus.disclosures import DisclosureStore
from govbus.gateway import cursor as cursors
from govbus.gateway.audit import GatewayAudit
from govbus.gateway.auth import Authenticator, Principal
from govbus.gateway.consume import Consumption
from govbus.gateway.keystore import KeyStore
from govbus.gateway.problems import Problem
from govbus.gateway.ratelimit import RateLimiter
from govbus.licences import LicenceStore
from govbus.pseudonym import Pseudonymizer

PARTITIONS_BOUND = 1024


class Publishers:
    """One SDK publisher per department, made on first use and closed at shutdown."""

    def __init__(self) -> None:
        self._by_department: dict[str, Publisher] = {}

    def get(self, department: str) -> Publisher:
        if department not in self._by_department:
            self._by_department[department] = Publisher(department)
        return self._by_department[department]

    def close(self) -> None:
        for pub in self._by_department.values():
            pub.close()


@dataclass
class Services:
    settings: GatewaySettings
    auth: Authenticator
    limiter: RateLimiter
    consumption: Consumption
    audit: GatewayAudit
    publishers: Publishers
    keys: KeyStore
    bootstrap: str
    policy_topic: str
    disclosures: DisclosureStore
    licences: LicenceStore
    pseudonymizer: Pseudonymizer


def services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


def principal(
    svc: Annotated[Services, Depends(services)],
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
) -> Principal:
    who = svc.auth.authenticate(authorization, x_api_key)
    svc.limiter.check(who.department)
    return who


def subscriber(who: Annotated[Principal, Depends(principal)]) -> Principal:
    who.require("subscriber")
    return who


def parse_cursor(token: str | None) -> dict[int, int] | None:
    if token is None:
        return None
    try:
        return cursors.decode(token, PARTITIONS_BOUND)
    except cursors.CursorError as exc:
        raise Problem(400, "bad-cursor", str(exc)) from None


ServicesDep = Annotated[Services, Depends(services)]
SubscriberDep = Annotated[Principal, Depends(subscriber)]

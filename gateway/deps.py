"""Request dependencies: the services, who is calling (authenticated, rate limited), and
what they may do. Every route depends on ``authorized(<action>)``: the role is decided
before the route runs, and the route decides the scope with ``Grant.check(target)`` once it
knows what it touches -- both by ``authority.decide``, the one place authority lives."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request

from govbus.adapters.publisher import Publisher
from govbus.config import GatewaySettings
from govbus.disclosures import DisclosureStore
from govbus.gateway import cursor as cursors
from govbus.gateway.assertions import CitizenAssertions
from govbus.gateway.audit import GatewayAudit
from govbus.gateway.auth import Authenticator
from govbus.gateway.authority import Action, Principal, Target, decide
from govbus.gateway.consume import Consumption
from govbus.gateway.keystore import KeyStore
from govbus.gateway.policy_writes import PolicyWriter
from govbus.gateway.problems import Problem
from govbus.gateway.ratelimit import RateLimiter
from govbus.gateway.recheck import Rechecks
from govbus.licences import LicenceStore
from govbus.pseudonym import Pseudonymizer
from govbus.trace_index import TraceLookup

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
    assertions: CitizenAssertions
    rechecks: Rechecks
    traces: TraceLookup
    policy: PolicyWriter


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


def enforce(who: Principal, action: Action, target: Target | None = None) -> None:
    """Raise the decision's problem unless ``who`` may do ``action`` (to ``target``)."""
    decision = decide(who, action, target)
    if not decision.allowed:
        raise Problem(decision.status, decision.code, decision.reason)


@dataclass(frozen=True)
class Grant:
    """The caller, allowed to attempt ``action``; ``check`` decides a concrete target."""

    who: Principal
    action: Action

    def check(self, target: Target) -> None:
        enforce(self.who, self.action, target)

    def allows(self, target: Target) -> bool:
        return decide(self.who, self.action, target).allowed


ACTION_ATTR = "govbus_action"  # marks the dependency, so a test can find every route's action
_dependencies: dict[Action, Callable[..., Grant]] = {}


def authorized(action: Action) -> Callable[..., Grant]:
    """The dependency that authenticates the caller and decides ``action``'s role."""
    if action not in _dependencies:

        def dependency(who: Annotated[Principal, Depends(principal)]) -> Grant:
            enforce(who, action)
            return Grant(who, action)

        setattr(dependency, ACTION_ATTR, action)
        _dependencies[action] = dependency
    return _dependencies[action]


def subscriber(grant: Annotated[Grant, Depends(authorized(Action.READ_DELIVERIES))]) -> Principal:
    return grant.who


def parse_cursor(token: str | None) -> dict[int, int] | None:
    if token is None:
        return None
    try:
        return cursors.decode(token, PARTITIONS_BOUND)
    except cursors.CursorError as exc:
        raise Problem(400, "bad-cursor", str(exc)) from None


ServicesDep = Annotated[Services, Depends(services)]
SubscriberDep = Annotated[Principal, Depends(subscriber)]

"""The authority model as a pure function, checked cell by cell against the access matrix,
and the gateway checked to route every request through it."""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute
from hypothesis import given
from hypothesis import strategies as st

from govbus.config import ConnectionSettings, GatewaySettings
from govbus.gateway import (
    routes_admin,
    routes_citizens,
    routes_events,
    routes_inbound,
    routes_ops,
    routes_publish,
)
from govbus.gateway.app import create_app
from govbus.gateway.authority import (
    DEPARTMENT_GRANTABLE,
    ROLES,
    Action,
    Principal,
    Target,
    decide,
)
from govbus.gateway.deps import ACTION_ATTR
from tests.access_matrix import ROWS, B, Row, cells, department_of, principal

# Probes, and the AsyncAPI document: the public description of the interface (types, topics,
# channels; no data), as /openapi.json is.
UNGUARDED = {
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/v1/asyncapi.json"),
}
CONSOLE = "/console/"
ROUTERS = (
    routes_events.router,
    routes_events.schemas_router,
    routes_publish.router,
    routes_admin.router,
    routes_inbound.router,
    routes_citizens.router,
    routes_ops.router,
)


@pytest.mark.parametrize(
    ("row", "scope", "caller", "expected"),
    [c for c in cells() if c[2] != "anonymous" and c[1] not in c[0].by_route],
    ids=lambda v: v.route if isinstance(v, Row) else str(v),
)
def test_decide_answers_every_cell_of_the_matrix(
    row: Row, scope: str, caller: str, expected: int
) -> None:
    who = principal(caller)
    target = None if row.target is None else row.target(scope, department_of(caller), B)
    decision = decide(who, row.action, target)
    if expected in (401, 403):
        assert not decision.allowed, decision
        assert decision.status == expected
    else:  # allowed; the route answers with its own status from here
        assert decision.allowed, decision


def test_the_matrix_covers_every_action_and_every_caller_sees_every_route() -> None:
    assert {row.action for row in ROWS} == set(Action)
    for row in ROWS:
        assert row.own[0] == 401  # no credential: nothing


def _actions(dependant: object) -> set[Action]:
    found = set()
    for dep in getattr(dependant, "dependencies", []):
        action = getattr(dep.call, ACTION_ATTR, None)
        if action is not None:
            found.add(action)
        found |= _actions(dep)
    return found


def _shape(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def test_every_route_is_guarded_by_exactly_the_action_the_matrix_names() -> None:
    table: dict[tuple[str, str], set[Action]] = {}
    for row in ROWS:
        method, path = row.route.split(" (")[0].split(" ", 1)
        if path.startswith(CONSOLE):
            continue  # console pages: session cookies, no OpenAPI; test_console.py has them
        table.setdefault((method, _shape(path)), set()).add(row.action)
    # Every operation the gateway publishes has a row...
    app = create_app(ConnectionSettings(), GatewaySettings())
    published = {
        (method.upper(), _shape(path))
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    }
    assert published - UNGUARDED == set(table), "a row without a route, or a route without one"
    # ... and its handler depends on exactly the authority check the row names.
    guarded = {}
    for router in ROUTERS:
        for route in router.routes:
            assert isinstance(route, APIRoute)
            for method in route.methods:
                guarded[(method, _shape(route.path))] = _actions(route.dependant)
    assert set(guarded) == set(table)
    for key, actions in guarded.items():
        assert actions == table[key], key


# ----------------------------------------------------------------- properties

departments = st.sampled_from(["health", "public_security", "tax", "mx_a", "data_bureau"])
role_sets = st.frozensets(st.sampled_from(sorted(ROLES)), min_size=1)
SCOPED = [a for a in Action if a not in (Action.VIEW_INBOUND, Action.MANAGE_INBOUND)]


@given(
    dept=departments,
    roles=role_sets,
    other=departments,
    providers=st.frozensets(departments),
    action=st.sampled_from(SCOPED),
)
def test_no_role_of_one_department_reaches_anothers(
    dept: str, roles: frozenset[str], other: str, providers: frozenset[str], action: Action
) -> None:
    """Unless it is the bureau, or the provider of the data concerned, a department's
    credential never acts on a target of another department."""
    if dept == other or dept in providers or dept == "data_bureau":
        return
    who = Principal(dept, roles, "key:x")
    target = Target(department=other, providers=providers, owners=providers)
    if action in (Action.VIEW_DISCLOSURES, Action.READ_DELIVERIES, Action.ACK_CORRECTIONS):
        return  # these take no target: the route serves the caller's own department only
    if action == Action.VERIFY_LICENCE:
        return  # a public status check, no department's data
    assert not decide(who, action, target).allowed


@given(roles=role_sets, providers=st.frozensets(departments, min_size=1))
def test_the_bureau_approves_nothing_on_a_providers_behalf(
    roles: frozenset[str], providers: frozenset[str]
) -> None:
    who = Principal("data_bureau", roles, "key:b", bureau=True)
    target = Target(department="mx_a", providers=providers - {"data_bureau"})
    assert not decide(who, Action.DECIDE_SUBSCRIPTION, target).allowed


@given(granted=st.frozensets(st.sampled_from(sorted(ROLES)), min_size=1))
def test_a_department_admin_grants_only_what_a_department_may_hold(
    granted: frozenset[str],
) -> None:
    who = Principal("health", frozenset({"admin"}), "key:a")
    decision = decide(who, Action.ISSUE_KEY, Target(department="health", roles=granted))
    assert decision.allowed is (granted <= DEPARTMENT_GRANTABLE)


def test_separation_of_duties_even_for_the_providers_own_admin() -> None:
    who = Principal("health", frozenset({"admin"}), "key:a")
    mine = frozenset({"health"})
    own_request = Target(department="health", providers=mine, owners=mine)
    assert decide(who, Action.DECIDE_SUBSCRIPTION, own_request).code == "own-request"
    assert decide(who, Action.REQUEST_SUBSCRIPTION, own_request).code == "own-request"

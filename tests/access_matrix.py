"""The access matrix: every route x every caller x the caller's own department or another's
-> the status the gateway must answer. One table, read by two tests:

- tests/unit/gateway/test_authority.py asks ``authority.decide`` every cell (a 2xx, or a status the
  route gives past authority, means "allowed"; 403 means refused);
- tests/integration/test_access_matrix.py makes every cell as a real HTTP request against
  the real gateway (uvicorn, Kafka, Redis, PostgreSQL) and compares the status exactly.

Callers: one credential per role in department A ("own" = a target of department A), the
bureau's admin and auditor ("own" = a target of the bureau itself), and no credential.
``NA``: no such target exists (the bureau provides no event types); ``None`` for a whole
scope: the route takes no target -- it works on the caller's own department only, derived
from the credential.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from govbus.gateway.authority import (
    ADMIN,
    AUDITOR,
    CITIZEN_PORTAL,
    PUBLISHER,
    SUBSCRIBER,
    Action,
    Principal,
    Target,
)

CALLERS = (
    "anonymous",
    "subscriber",
    "publisher",
    "admin",
    "auditor",
    "citizen_portal",
    "bureau_admin",
    "bureau_auditor",
)
ROLE_OF = {
    "subscriber": SUBSCRIBER,
    "publisher": PUBLISHER,
    "admin": ADMIN,
    "auditor": AUDITOR,
    "citizen_portal": CITIZEN_PORTAL,
    "bureau_admin": ADMIN,
    "bureau_auditor": AUDITOR,
}
BUREAU = "data_bureau"
NA = 0  # no such target for this caller
Cells = tuple[int, int, int, int, int, int, int, int]  # in CALLERS order

# Concrete departments of the unit test (the integration test has its own, same roles):
# A owns conditional data (health), B another department, THIRD requests others' data.
A, B, THIRD = "health", "public_security", "mx_requester"


def department_of(caller: str, a: str = A, bureau: str = BUREAU) -> str:
    return bureau if caller.startswith("bureau_") else a


def principal(caller: str, a: str = A, bureau: str = BUREAU) -> Principal:
    dept = department_of(caller, a, bureau)
    return Principal(dept, frozenset({ROLE_OF[caller]}), f"key:{caller}", bureau=dept == bureau)


# (scope, caller's department, another department) -> the target
TargetOf = Callable[[str, str, str], Target]


@dataclass(frozen=True)
class Row:
    route: str  # "METHOD /path" and, when one route has several rows, what differs
    action: Action
    own: Cells
    other: Cells | None = None
    target: TargetOf | None = None  # None: the route filters or derives; decide by role
    # Scopes the route refuses by its own check after decide() allowed (e.g. an identifier
    # the citizen's assertion does not name): the unit test skips those cells.
    by_route: frozenset[str] = field(default_factory=frozenset)


def _dept(scope: str, me: str, other: str) -> str:
    return me if scope == "own" else other


def _owned(scope: str, me: str, other: str) -> Target:
    return Target(department=_dept(scope, me, other))


def _request_for(scope: str, me: str, other: str) -> Target:
    # Unconditional data (tax registrations): nobody's approval needed.
    return Target(department=_dept(scope, me, other), owners=frozenset({"tax"}))


def _provided_by(scope: str, me: str, other: str) -> Target:
    # A third department's pending request for conditional data of me / of the other.
    provider = frozenset({_dept(scope, me, other)})
    return Target(department=THIRD, providers=provider, owners=provider)


def _own_request(scope: str, me: str, other: str) -> Target:
    mine = frozenset({me})
    return Target(department=me, providers=mine, owners=mine)


def _key(roles: frozenset[str]) -> TargetOf:
    def target(scope: str, me: str, other: str) -> Target:
        return Target(department=_dept(scope, me, other), roles=roles)

    return target


R = 403
ROWS: tuple[Row, ...] = (
    #                                                  anon sub  pub  adm  aud  portl b.adm b.aud
    Row("GET /v1/events", Action.READ_DELIVERIES, own=(401, 200, R, R, R, R, R, R)),
    Row("POST /v1/events/ack", Action.READ_DELIVERIES, own=(401, 204, R, R, R, R, R, R)),
    Row("GET /v1/events/stream", Action.READ_DELIVERIES, own=(401, 200, R, R, R, R, R, R)),
    Row(
        "GET /v1/schemas/{fp}",
        Action.READ_DELIVERIES,
        # own: the schema of one's own deliveries; other: of another department's (not found)
        own=(401, 200, R, R, R, R, R, R),
        other=(401, 404, R, R, R, R, R, R),
        by_route=frozenset({"other"}),
    ),
    Row("POST /v1/corrections/ack", Action.ACK_CORRECTIONS, own=(401, 204, R, R, R, R, R, R)),
    Row("GET /v1/licences/verify", Action.VERIFY_LICENCE, own=(401, 200, R, R, R, R, R, R)),
    Row(
        "POST /v1/publish/{type}",
        Action.PUBLISH,
        own=(401, R, 202, R, R, R, R, R),
        other=(401, R, R, R, R, R, R, R),
        target=_owned,
    ),
    Row(
        "GET /v1/admin/subscriptions",
        Action.VIEW_SUBSCRIPTIONS,
        own=(401, R, R, 200, 200, R, 200, 200),
    ),
    Row(
        "POST /v1/admin/subscriptions",
        Action.REQUEST_SUBSCRIPTION,
        own=(401, R, R, 201, R, R, 201, R),
        other=(401, R, R, R, R, R, R, R),
        target=_request_for,
    ),
    Row(
        "POST /v1/admin/subscriptions/{id}/approve",
        Action.DECIDE_SUBSCRIPTION,
        own=(401, R, R, 200, R, R, NA, R),
        other=(401, R, R, R, R, R, R, R),
        target=_provided_by,
    ),
    Row(
        "POST /v1/admin/subscriptions/{id}/approve (own department's request)",
        Action.DECIDE_SUBSCRIPTION,
        own=(401, R, R, R, R, R, NA, R),
        target=_own_request,
    ),
    Row(
        "POST /v1/admin/subscriptions/{id}/reject",
        Action.DECIDE_SUBSCRIPTION,
        own=(401, R, R, 200, R, R, NA, R),
        other=(401, R, R, R, R, R, R, R),
        target=_provided_by,
    ),
    Row(
        "POST /v1/admin/subscriptions/{id}/revoke",
        Action.REVOKE_SUBSCRIPTION,
        own=(401, R, R, 200, R, R, 200, R),
        other=(401, R, R, R, R, R, 200, R),
        target=_request_for,
    ),
    Row(
        "POST /v1/admin/subscriptions/{id}/revoke (as its provider)",
        Action.REVOKE_SUBSCRIPTION,
        own=(401, R, R, 200, R, R, NA, R),
        target=_provided_by,
    ),
    Row("GET /v1/admin/approvals", Action.VIEW_APPROVALS, own=(401, R, R, 200, 200, R, 200, 200)),
    Row(
        "POST /v1/admin/keys",
        Action.ISSUE_KEY,
        own=(401, R, R, 201, R, R, 201, R),
        other=(401, R, R, R, R, R, 201, R),
        target=_key(frozenset({SUBSCRIBER})),
    ),
    Row(
        "POST /v1/admin/keys (citizen_portal role)",
        Action.ISSUE_KEY,
        own=(401, R, R, R, R, R, 201, R),
        other=(401, R, R, R, R, R, 201, R),
        target=_key(frozenset({CITIZEN_PORTAL})),
    ),
    Row("GET /v1/admin/keys", Action.VIEW_KEYS, own=(401, R, R, 200, 200, R, 200, 200)),
    Row(
        "DELETE /v1/admin/keys/{id}",
        Action.REVOKE_KEY,
        own=(401, R, R, 204, R, R, 204, R),
        other=(401, R, R, R, R, R, 204, R),
        target=_owned,
    ),
    Row("GET /v1/admin/inbound", Action.VIEW_INBOUND, own=(401, R, R, R, R, R, 200, 200)),
    # A console page (session cookie, not in the OpenAPI document): the browser tests make
    # these requests (tests/integration/test_console.py).
    Row("GET /console/ops", Action.VIEW_OPS, own=(401, R, R, R, R, R, 200, 200)),
    Row("POST /console/ops/redrive", Action.REDRIVE, own=(401, R, R, R, R, R, 303, R)),
    Row(
        "PUT /v1/admin/inbound/{peer}/{id}",
        Action.MANAGE_INBOUND,
        own=(401, R, R, R, R, R, 201, R),
    ),
    Row(
        "POST /v1/admin/inbound/{peer}/{id}/revoke",
        Action.MANAGE_INBOUND,
        own=(401, R, R, R, R, R, 200, R),
    ),
    Row(
        "POST /v1/disclosures",
        Action.VIEW_DISCLOSURES,
        # own: the identifier the citizen's assertion names; other: one it does not
        own=(401, R, R, R, R, 200, R, R),
        other=(401, R, R, R, R, R, R, R),
        by_route=frozenset({"other"}),
    ),
    # An event nobody published: past authority, the bureau is told there is none (the
    # answer for a real one: tests/integration/test_trace_index.py).
    Row("GET /v1/ops/trace/{event_id}", Action.VIEW_TRACE, own=(401, R, R, R, R, R, 404, 404)),
)


def cells() -> list[tuple[Row, str, str, int]]:
    """(row, scope, caller, expected status) for every cell that exists."""
    out = []
    for row in ROWS:
        for scope, statuses in (("own", row.own), ("other", row.other)):
            if statuses is None:
                continue
            out += [
                (row, scope, caller, status)
                for caller, status in zip(CALLERS, statuses, strict=True)
                if status != NA
            ]
    return out

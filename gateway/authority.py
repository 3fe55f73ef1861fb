"""The authority model: who may do what, as one pure decision.

Every gateway route names its action and asks ``decide`` -- once for the role (before it
reads anything) and once more with the target it is about to touch (the department a key is
for, the subscription's subscriber and providers). Nothing else in the gateway grants or
refuses; docs/security.md states the same model as a table, and tests/access_matrix.py
holds the expected answers that both the unit tests and the access-matrix run against the
real gateway check.

Powers, in short:
- The data-management bureau (the platform operator; principals of the department
  ``GOVBUS_BUREAU_DEPARTMENT``) administers the platform: keys of any department with any
  role, inbound agreements with other provinces' buses, revocation of any subscription.
  It approves nothing on a provider's behalf. It alone operates the platform (the
  console's ops pages: every department's throughput, dead letters and event traces).
- A department's admin acts only for its own department: its own keys (with roles a
  department may hold), its own subscription requests, the approval or rejection of its
  own part of requests for the data it provides -- never of a request its own department
  made -- and revocation of subscriptions it holds or provides conditional data to.
- An auditor reads what its department's admin may read (the bureau's auditor: all), and
  changes nothing.
- Subscribers read their own deliveries, publishers publish the types their department
  owns, the citizen portal asks for a citizen's disclosure report (with the citizen's own
  signed assertion, checked by the route).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

SUBSCRIBER, PUBLISHER, ADMIN, AUDITOR, CITIZEN_PORTAL = (
    "subscriber",
    "publisher",
    "admin",
    "auditor",
    "citizen_portal",
)
ROLES = frozenset({SUBSCRIBER, PUBLISHER, ADMIN, AUDITOR, CITIZEN_PORTAL})
# What a department's admin may put on a key of its own department. The citizen portal is a
# platform service: only the bureau issues its keys.
DEPARTMENT_GRANTABLE = frozenset({SUBSCRIBER, PUBLISHER, ADMIN, AUDITOR})


class Action(StrEnum):
    READ_DELIVERIES = "read_deliveries"  # pull, ack, stream, schemas: always one's own topic
    ACK_CORRECTIONS = "ack_corrections"
    VERIFY_LICENCE = "verify_licence"
    PUBLISH = "publish"  # target: the type's owner
    VIEW_SUBSCRIPTIONS = "view_subscriptions"  # target: one subscription (filters the list)
    REQUEST_SUBSCRIPTION = "request_subscription"  # target: the subscriber asked for
    DECIDE_SUBSCRIPTION = "decide_subscription"  # approve/reject one's part
    REVOKE_SUBSCRIPTION = "revoke_subscription"
    VIEW_APPROVALS = "view_approvals"  # the inbox of pending parts
    ISSUE_KEY = "issue_key"  # target: the key's department and roles
    VIEW_KEYS = "view_keys"
    REVOKE_KEY = "revoke_key"
    VIEW_INBOUND = "view_inbound"
    MANAGE_INBOUND = "manage_inbound"
    VIEW_DISCLOSURES = "view_disclosures"
    VIEW_TRACE = "view_trace"  # what happened to one event (ops)
    VIEW_OPS = "view_ops"  # the console's ops pages: throughput, lag, dead letters, traces
    REDRIVE = "redrive"  # send dead letters back to their event topic


# The roles that may attempt each action at all (any one of them).
NEEDS: dict[Action, frozenset[str]] = {
    Action.READ_DELIVERIES: frozenset({SUBSCRIBER}),
    Action.ACK_CORRECTIONS: frozenset({SUBSCRIBER}),
    Action.VERIFY_LICENCE: frozenset({SUBSCRIBER}),
    Action.PUBLISH: frozenset({PUBLISHER}),
    Action.VIEW_SUBSCRIPTIONS: frozenset({ADMIN, AUDITOR}),
    Action.REQUEST_SUBSCRIPTION: frozenset({ADMIN}),
    Action.DECIDE_SUBSCRIPTION: frozenset({ADMIN}),
    Action.REVOKE_SUBSCRIPTION: frozenset({ADMIN}),
    Action.VIEW_APPROVALS: frozenset({ADMIN, AUDITOR}),
    Action.ISSUE_KEY: frozenset({ADMIN}),
    Action.VIEW_KEYS: frozenset({ADMIN, AUDITOR}),
    Action.REVOKE_KEY: frozenset({ADMIN}),
    Action.VIEW_INBOUND: frozenset({ADMIN, AUDITOR}),
    Action.MANAGE_INBOUND: frozenset({ADMIN}),
    Action.VIEW_DISCLOSURES: frozenset({CITIZEN_PORTAL}),
    Action.VIEW_TRACE: frozenset({ADMIN, AUDITOR}),
    Action.VIEW_OPS: frozenset({ADMIN, AUDITOR}),
    Action.REDRIVE: frozenset({ADMIN}),
}
# Tracing an event shows every recipient of it across departments: the operator's only.
BUREAU_ONLY = frozenset(
    {Action.VIEW_INBOUND, Action.MANAGE_INBOUND, Action.VIEW_TRACE, Action.VIEW_OPS, Action.REDRIVE}
)


@dataclass(frozen=True)
class Principal:
    """Who is calling, as the authenticator established it."""

    department: str
    roles: frozenset[str]
    credential: str  # key id or JWT subject, for audit
    bureau: bool = False  # the department is the data-management bureau
    key_id: str | None = None  # for re-checking a long-lived stream
    expires_at: float | None = None  # a bearer token's exp (epoch seconds)


@dataclass(frozen=True)
class Target:
    """What an action touches. ``department``: the department it is for (a key's, a
    subscription's subscriber, a type's owner). ``providers``: owners of the conditional
    types a subscription covers; ``owners``: owners of all its types."""

    department: str | None = None
    providers: frozenset[str] = field(default_factory=frozenset)
    owners: frozenset[str] = field(default_factory=frozenset)
    roles: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    status: int = 200
    code: str = "allowed"
    reason: str = ""


ALLOWED = Decision(True)


def _deny(code: str, reason: str) -> Decision:
    return Decision(False, 403, code, reason)


def decide(who: Principal, action: Action, target: Target | None = None) -> Decision:
    """Allowed, or 403 with a stable code and a reason. Without a target only the role is
    decided (routes ask that before reading anything); with one, the scope too."""
    needs = NEEDS[action]
    if not needs & who.roles:
        return _deny("forbidden", f"this credential lacks the {' or '.join(sorted(needs))} role")
    if action in BUREAU_ONLY and not who.bureau:
        return _deny("bureau-only", "only the data-management bureau administers this")
    if target is None:
        return ALLOWED
    return _scope(who, action, target)


def _scope(who: Principal, action: Action, t: Target) -> Decision:
    own = t.department == who.department
    if action == Action.PUBLISH:
        # The code is the dead letter's reason code for the same refusal (policy.not_owner).
        if own:
            return ALLOWED
        return _deny("policy-not_owner", f"{t.department} owns this event type")
    if action == Action.REQUEST_SUBSCRIPTION:
        if not own:
            return _deny("other-department", "a department requests subscriptions for itself")
        if who.department in t.providers:
            return _deny("own-request", "a department cannot be granted its own conditional data")
        return ALLOWED
    if action == Action.DECIDE_SUBSCRIPTION:
        if who.department not in t.providers:
            listed = ", ".join(sorted(t.providers)) or "none"
            return _deny("not-provider", f"only the providing departments ({listed}) decide")
        if own:
            return _deny("own-request", "nobody approves a request of their own department")
        return ALLOWED
    if action == Action.REVOKE_SUBSCRIPTION:
        if who.bureau or own or who.department in t.providers:
            return ALLOWED
        return _deny("other-department", "only the subscriber, a provider or the bureau may revoke")
    if action in (Action.VIEW_SUBSCRIPTIONS, Action.VIEW_APPROVALS):
        if who.bureau or own or who.department in t.owners:
            return ALLOWED
        return _deny("other-department", "another department's subscription")
    if action == Action.ISSUE_KEY:
        if who.bureau:
            return ALLOWED
        if not own:
            return _deny("other-department", "a department issues keys for itself only")
        extra = t.roles - DEPARTMENT_GRANTABLE
        if extra:
            return _deny("role-not-grantable", f"only the bureau grants {', '.join(sorted(extra))}")
        return ALLOWED
    if action in (Action.VIEW_KEYS, Action.REVOKE_KEY):
        if who.bureau or own:
            return ALLOWED
        return _deny("other-department", "another department's key")
    # Actions on one's own resources only (the route derives them from the credential) or
    # bureau-only actions already decided by role.
    return ALLOWED

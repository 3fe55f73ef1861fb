"""Admin routes: subscriptions (request, approve, reject, revoke) written to the policy
topic, the providers' inbox of unanswered requests, and API keys. Every change is audited.

Who may do which is decided in authority.py; here each route says what it touches.
Sharing-type rules: a subscription to conditional data starts 'pending'; each provider
approves or rejects the part covering the types it owns (approvals.py), and the worker
delivers a type only once its own provider approved. Not-shared data is refused;
unconditional data is active at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Header, Path, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field, ValidationError

from govbus import policy_store
from govbus.gateway import approvals
from govbus.gateway.authority import ROLES, Action, Principal, Target
from govbus.gateway.deps import Grant, ServicesDep, authorized
from govbus.gateway.problems import PROBLEM_RESPONSES, Problem
from govbus.policy import InboundAgreement, PolicyDocument, Subscription, validate
from govbus.schemas.catalogue import default_catalogue

router = APIRouter(prefix="/v1/admin", tags=["admin"], responses=PROBLEM_RESPONSES)
SubscriptionId = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9._-]{1,80}$")]
KeyId = Annotated[str, Path(pattern=r"^[0-9a-f]{12}$")]


# Each route's one authority dependency (authority.decide, through deps.authorized).
ViewSubscriptions = Annotated[Grant, Depends(authorized(Action.VIEW_SUBSCRIPTIONS))]
RequestSubscription = Annotated[Grant, Depends(authorized(Action.REQUEST_SUBSCRIPTION))]
DecideSubscription = Annotated[Grant, Depends(authorized(Action.DECIDE_SUBSCRIPTION))]
RevokeSubscription = Annotated[Grant, Depends(authorized(Action.REVOKE_SUBSCRIPTION))]
ViewApprovals = Annotated[Grant, Depends(authorized(Action.VIEW_APPROVALS))]
IssueKey = Annotated[Grant, Depends(authorized(Action.ISSUE_KEY))]
ViewKeys = Annotated[Grant, Depends(authorized(Action.VIEW_KEYS))]
RevokeKey = Annotated[Grant, Depends(authorized(Action.REVOKE_KEY))]


class SubscriptionRequest(BaseModel):
    id: str
    subscriber: str
    event_types: list[str]
    fields: dict[str, str]
    legal_basis: str
    purpose: str
    filter: dict[str, Any] | None = None
    expires: dt.datetime | None = None


class Decision(BaseModel):
    reason: str = Field(min_length=3, max_length=500)
    reference: str = Field(default="", max_length=200)


class KeyRequest(BaseModel):
    department: str = Field(pattern=r"^[a-z][a-z0-9_]{1,62}$")
    roles: list[str] = Field(min_length=1, max_length=len(ROLES))


def target_of(sub: Subscription) -> Target:
    """What a subscription is, to the authority model: whose, and whose data."""
    catalogue = default_catalogue()
    return Target(
        department=sub.subscriber,
        providers=frozenset(approvals.owners(sub, catalogue, conditional=True)),
        owners=frozenset(approvals.owners(sub, catalogue)),
    )


def shown(sub: Subscription) -> dict[str, Any]:
    return {
        **sub.model_dump(mode="json", by_alias=True, exclude_none=True),
        "etag": policy_store.etag(sub),
    }


async def _current(svc: ServicesDep) -> dict[str, Subscription]:
    doc = await run_in_threadpool(policy_store.read, svc.bootstrap, svc.policy_topic)
    return {s.id: s for s in doc.subscriptions}


IfMatch = Annotated[
    str | None,
    Header(
        description="Only if the entry's ETag (from the listing or a previous write) is "
        "still this one; else 412."
    ),
]
E = TypeVar("E", bound=policy_store.Entry)


async def change_policy(
    svc: ServicesDep,
    who: Principal,
    response: Response,
    *,
    key: str,
    kind: type[E],
    change: Callable[[E | None], tuple[E, str]],
    if_match: str | None = None,
) -> E:
    """Change one subscription or inbound agreement as a compare-and-set (policy_writes):
    ``change`` sees the entry as stored at its turn and returns the new entry and what was
    done; audited, and the new ETag is in the response."""
    done: list[str] = []

    def apply(current: E | None) -> E:
        changed, action = change(current)
        done.append(action)
        return changed

    entry = await run_in_threadpool(svc.policy.update, key, kind, apply, if_match=if_match)
    party = entry.peer if isinstance(entry, InboundAgreement) else entry.subscriber
    svc.audit.record(
        "policy",
        subscriber=party,
        detail=f"{done[-1]} {key} by {who.department} ({who.credential})",
    )
    response.headers["ETag"] = policy_store.etag(entry)
    return entry


@router.get("/subscriptions")
async def list_subscriptions(svc: ServicesDep, grant: ViewSubscriptions) -> dict[str, Any]:
    """The subscriptions your department holds or provides data to (the bureau: all), with
    their state and each provider's answer."""
    subs = await _current(svc)
    return {"subscriptions": [shown(s) for s in subs.values() if grant.allows(target_of(s))]}


@router.post("/subscriptions", status_code=201)
async def request_subscription(
    body: SubscriptionRequest, response: Response, svc: ServicesDep, grant: RequestSubscription
) -> dict[str, Any]:
    """Request a subscription for your own department: active at once for unconditional
    data, 'pending' until a provider approves for conditional data; refused for data that
    is not shared, and for a department's own conditional data."""
    who = grant.who
    try:
        sub = Subscription.model_validate(
            {
                **body.model_dump(exclude_none=True),
                "status": "pending",
                "requested_at": dt.datetime.now(dt.UTC),
                "requested_by": f"{who.department}:{who.credential}",
            }
        )
    except ValidationError as exc:
        raise Problem(422, "invalid-subscription", str(exc.errors()[:3])) from None
    grant.check(target_of(sub))
    sub = sub.model_copy(update={"status": approvals.status_of(sub, default_catalogue())})
    problems = validate(PolicyDocument(subscriptions=[sub]), default_catalogue())
    if problems:
        raise Problem(422, "invalid-subscription", "; ".join(problems))

    def create(current: Subscription | None) -> tuple[Subscription, str]:
        if current is not None:
            raise Problem(409, "subscription-exists", f"subscription {body.id} exists")
        return sub, "requested"

    return shown(
        await change_policy(svc, who, response, key=body.id, kind=Subscription, change=create)
    )


def existing(sub_id: str, current: Subscription | None) -> Subscription:
    if current is None:
        raise Problem(404, "no-such-subscription", f"no subscription {sub_id}")
    return current


async def _answer(
    svc: ServicesDep,
    grant: Grant,
    response: Response,
    sub_id: str,
    decision: Decision,
    *,
    approve: bool,
    if_match: str | None,
) -> dict[str, Any]:
    who, now, catalogue = grant.who, dt.datetime.now(dt.UTC), default_catalogue()
    credential = f"{who.department}:{who.credential}"

    def answer(current: Subscription | None) -> tuple[Subscription, str]:
        sub = existing(sub_id, current)
        grant.check(target_of(sub))
        try:
            if approve:
                changed = approvals.approve(
                    sub,
                    who.department,
                    approver=credential,
                    reference=decision.reference,
                    now=now,
                    catalogue=catalogue,
                )
            else:
                changed = approvals.reject(
                    sub,
                    who.department,
                    rejecter=credential,
                    reason=decision.reason,
                    now=now,
                    catalogue=catalogue,
                )
        except approvals.NotAwaitingError as exc:
            raise Problem(409, "not-pending", str(exc)) from None
        return changed, f"{'approved' if approve else 'rejected'} for {who.department}"

    changed = await change_policy(
        svc, who, response, key=sub_id, kind=Subscription, change=answer, if_match=if_match
    )
    return shown(changed)


@router.post("/subscriptions/{sub_id}/approve")
async def approve(
    sub_id: SubscriptionId,
    decision: Decision,
    *,
    response: Response,
    svc: ServicesDep,
    grant: DecideSubscription,
    if_match: IfMatch = None,
) -> dict[str, Any]:
    """A providing department approves its part: the conditional types it owns. Another
    provider's types in the same request wait for that provider."""
    return await _answer(svc, grant, response, sub_id, decision, approve=True, if_match=if_match)


@router.post("/subscriptions/{sub_id}/reject")
async def reject(
    sub_id: SubscriptionId,
    decision: Decision,
    *,
    response: Response,
    svc: ServicesDep,
    grant: DecideSubscription,
    if_match: IfMatch = None,
) -> dict[str, Any]:
    """A providing department refuses its part, with the reason recorded."""
    return await _answer(svc, grant, response, sub_id, decision, approve=False, if_match=if_match)


@router.post("/subscriptions/{sub_id}/revoke")
async def revoke(
    sub_id: SubscriptionId,
    decision: Decision,
    *,
    response: Response,
    svc: ServicesDep,
    grant: RevokeSubscription,
    if_match: IfMatch = None,
) -> dict[str, Any]:
    """Stop a subscription (its subscriber, a provider of its conditional data, or the
    bureau); workers stop delivering within seconds."""

    def stop(current: Subscription | None) -> tuple[Subscription, str]:
        sub = existing(sub_id, current)
        grant.check(target_of(sub))
        return policy_store.revoked(sub, decision.reason), "revoked"

    changed = await change_policy(
        svc, grant.who, response, key=sub_id, kind=Subscription, change=stop, if_match=if_match
    )
    return shown(changed)


@router.get("/approvals")
async def inbox(svc: ServicesDep, grant: ViewApprovals) -> dict[str, Any]:
    """Parts of conditional requests awaiting an answer: those your department provides
    (or requested), each with its deadline (working days from the request) and whether it
    is overdue. The bureau sees every one."""
    settings, catalogue = svc.settings, default_catalogue()
    waiting = approvals.awaiting(
        (await _current(svc)).values(),
        catalogue,
        dt.datetime.now(dt.UTC),
        working_days=settings.approval_working_days,
        holidays=settings.holidays,
        tz=settings.working_day_timezone,
    )
    mine = [
        a
        for a in waiting
        if grant.allows(
            Target(department=a.subscription.subscriber, owners=frozenset({a.provider}))
        )
    ]
    return {
        "working_days": settings.approval_working_days,
        "awaiting": [a.to_json() for a in mine],
        "overdue": sum(a.overdue for a in mine),
    }


@router.post("/keys", status_code=201)
async def issue_key(body: KeyRequest, svc: ServicesDep, grant: IssueKey) -> dict[str, str]:
    """Issue an API key (shown once): for your own department, with roles a department may
    hold (the bureau: any department, any role)."""
    if set(body.roles) - ROLES:
        raise Problem(422, "invalid-roles", f"roles must be some of {sorted(ROLES)}")
    grant.check(Target(department=body.department, roles=frozenset(body.roles)))
    try:
        key = await run_in_threadpool(svc.keys.issue, body.department, body.roles)
    except ValueError as exc:
        raise Problem(422, "invalid-request", str(exc)) from None
    svc.audit.record(
        "policy",
        subscriber=body.department,
        detail=f"key {key.split('_')[1]} ({','.join(sorted(body.roles))}) issued for "
        f"{body.department} by {grant.who.department} ({grant.who.credential})",
    )
    return {"key": key, "key_id": key.split("_")[1]}


@router.get("/keys")
async def list_keys(svc: ServicesDep, grant: ViewKeys) -> dict[str, Any]:
    """Your department's keys (the bureau: all), never their secrets."""
    department = None if grant.who.bureau else grant.who.department
    rows = await run_in_threadpool(svc.keys.all_keys, department)
    return {
        "keys": [
            {
                "key_id": key_id,
                "department": dept,
                "roles": roles,
                "created_at": created.isoformat(),
                "revoked_at": revoked.isoformat() if revoked else None,
            }
            for key_id, dept, roles, created, revoked in rows
        ]
    }


@router.delete("/keys/{key_id}", status_code=204)
async def revoke_key(key_id: KeyId, svc: ServicesDep, grant: RevokeKey) -> Response:
    """Revoke an API key of your department (the bureau: any) at once; open streams using
    it end within seconds."""
    department = await run_in_threadpool(svc.keys.department_of, key_id)
    if department is None:
        raise Problem(404, "no-such-key", f"no key {key_id}")
    grant.check(Target(department=department))
    if not await run_in_threadpool(svc.keys.revoke, key_id):
        raise Problem(404, "no-such-key", f"no active key {key_id}")
    svc.audit.record(
        "policy",
        subscriber=department,
        detail=f"key {key_id} revoked by {grant.who.department} ({grant.who.credential})",
    )
    return Response(status_code=204)

"""Admin routes: subscriptions (request, approve, reject, revoke) written to the policy
topic, and API keys. Every action is audited.

Sharing-type rules: a subscription to conditional data starts 'pending' and becomes active
only when an admin of the *providing* department approves it; not-shared data is refused;
unconditional data is active at once.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field, ValidationError

from govbus import policy_store
from govbus.gateway.auth import Principal
from govbus.gateway.deps import ServicesDep, principal
from govbus.gateway.keystore import ROLES
from govbus.gateway.problems import PROBLEM_RESPONSES, Problem
from govbus.policy import Approval, InboundAgreement, PolicyDocument, Subscription, validate
from govbus.schemas.catalogue import default_catalogue

router = APIRouter(prefix="/v1/admin", tags=["admin"], responses=PROBLEM_RESPONSES)
SubscriptionId = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9._-]{1,80}$")]


def admin(who: Annotated[Principal, Depends(principal)]) -> Principal:
    who.require("admin")
    return who


AdminDep = Annotated[Principal, Depends(admin)]


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
    department: str
    roles: list[str] = Field(min_length=1)


def _conditional_owners(sub: Subscription) -> set[str]:
    catalogue = default_catalogue()
    owners = set()
    for type_name in sub.event_types:
        event = catalogue.latest(type_name)
        if event is not None and event.sharing == "conditional":
            owners.add(event.owner)
    return owners


async def _current(svc: ServicesDep) -> dict[str, Subscription]:
    doc = await run_in_threadpool(policy_store.read, svc.bootstrap, svc.policy_topic)
    return {s.id: s for s in doc.subscriptions}


async def write_policy(
    svc: ServicesDep, who: Principal, entry: policy_store.Entry, action: str
) -> None:
    """Write one subscription or inbound agreement to the policy topic, audited."""
    await run_in_threadpool(policy_store.write, svc.bootstrap, svc.policy_topic, [entry])
    party = entry.peer if isinstance(entry, InboundAgreement) else entry.subscriber
    svc.audit.record(
        "policy",
        subscriber=party,
        detail=f"{action} {policy_store.entry_key(entry)} by {who.department} ({who.credential})",
    )


@router.get("/subscriptions")
async def list_subscriptions(svc: ServicesDep, who: AdminDep) -> dict[str, Any]:
    """Every subscription with its state."""
    subs = await _current(svc)
    return {
        "subscriptions": [
            s.model_dump(mode="json", by_alias=True, exclude_none=True) for s in subs.values()
        ]
    }


@router.post("/subscriptions", status_code=201)
async def request_subscription(
    body: SubscriptionRequest, svc: ServicesDep, who: AdminDep
) -> dict[str, Any]:
    """Request a subscription: active at once for unconditional data, 'pending' until the
    provider approves for conditional data; refused for data that is not shared."""
    if body.id in await _current(svc):
        raise Problem(409, "subscription-exists", f"subscription {body.id} exists")
    try:
        sub = Subscription.model_validate(
            {
                **body.model_dump(exclude_none=True),
                "status": "active",
                "requested_at": dt.datetime.now(dt.UTC),
            }
        )
    except ValidationError as exc:
        raise Problem(422, "invalid-subscription", str(exc.errors()[:3])) from None
    if _conditional_owners(sub):
        sub = sub.model_copy(update={"status": "pending"})
    problems = validate(PolicyDocument(subscriptions=[sub]), default_catalogue())
    if problems:
        raise Problem(422, "invalid-subscription", "; ".join(problems))
    await write_policy(svc, who, sub, "requested")
    return sub.model_dump(mode="json", by_alias=True, exclude_none=True)


async def _decide(
    svc: ServicesDep, who: Principal, sub_id: str, decision: Decision, status: str
) -> dict[str, Any]:
    subs = await _current(svc)
    sub = subs.get(sub_id)
    if sub is None:
        raise Problem(404, "no-such-subscription", f"no subscription {sub_id}")
    now = dt.datetime.now(dt.UTC)
    if status in ("active", "rejected"):
        owners = _conditional_owners(sub)
        if sub.status != "pending":
            raise Problem(409, "not-pending", f"{sub_id} is {sub.status}, not pending")
        if who.department not in owners:
            raise Problem(
                403,
                "not-provider",
                f"only the providing department ({', '.join(sorted(owners))}) decides",
            )
    if status == "revoked":
        changed = policy_store.revoked(sub, decision.reason)
    elif status == "active":
        approval = Approval(
            approver=f"{who.department}:{who.credential}",
            approved_at=now,
            reference=decision.reference,
        )
        changed = sub.model_copy(update={"status": status, "approval": approval})
    else:
        changed = sub.model_copy(update={"status": status, "rejection_reason": decision.reason})
    await write_policy(svc, who, changed, {"active": "approved"}.get(status, status))
    return changed.model_dump(mode="json", by_alias=True, exclude_none=True)


@router.post("/subscriptions/{sub_id}/approve")
async def approve(
    sub_id: SubscriptionId, decision: Decision, svc: ServicesDep, who: AdminDep
) -> dict[str, Any]:
    """The providing department approves a pending conditional subscription."""
    return await _decide(svc, who, sub_id, decision, "active")


@router.post("/subscriptions/{sub_id}/reject")
async def reject(
    sub_id: SubscriptionId, decision: Decision, svc: ServicesDep, who: AdminDep
) -> dict[str, Any]:
    """The providing department refuses, with the reason recorded."""
    return await _decide(svc, who, sub_id, decision, "rejected")


@router.post("/subscriptions/{sub_id}/revoke")
async def revoke(
    sub_id: SubscriptionId, decision: Decision, svc: ServicesDep, who: AdminDep
) -> dict[str, Any]:
    """Stop a subscription; workers stop delivering within seconds."""
    return await _decide(svc, who, sub_id, decision, "revoked")


@router.post("/keys", status_code=201)
async def issue_key(body: KeyRequest, svc: ServicesDep, who: AdminDep) -> dict[str, str]:
    """Issue an API key (shown once)."""
    if set(body.roles) - ROLES:
        raise Problem(422, "invalid-roles", f"roles must be some of {sorted(ROLES)}")
    try:
        key = await run_in_threadpool(svc.keys.issue, body.department, body.roles)
    except ValueError as exc:
        raise Problem(422, "invalid-request", str(exc)) from None
    svc.audit.record(
        "policy",
        subscriber=body.department,
        detail=f"key issued for {body.department} by {who.credential}",
    )
    return {"key": key, "key_id": key.split("_")[1]}


@router.delete("/keys/{key_id}", status_code=204)
async def revoke_key(
    key_id: Annotated[str, Path(pattern=r"^[0-9a-f]{12}$")], svc: ServicesDep, who: AdminDep
) -> None:
    """Revoke an API key at once."""
    if not await run_in_threadpool(svc.keys.revoke, key_id):
        raise Problem(404, "no-such-key", f"no active key {key_id}")
    svc.audit.record("policy", detail=f"key {key_id} revoked by {who.credential}", subscriber="")

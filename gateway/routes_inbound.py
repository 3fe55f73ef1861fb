"""Admin routes for inbound agreements: what this bus accepts from a federated peer
province's bus (docs/federation.md). Each holds the peer's subscription for this bus, copied
word for word; it goes to the policy topic beside the subscriptions, and every stream
worker follows within seconds. Every action is audited as a ``policy`` record. Agreements
between buses are the platform's: only the data-management bureau administers them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError

from govbus import policy_store
from govbus.gateway.authority import Action
from govbus.gateway.deps import Grant, ServicesDep, authorized
from govbus.gateway.problems import PROBLEM_RESPONSES, Problem
from govbus.gateway.routes_admin import Decision, IfMatch, SubscriptionId, change_policy
from govbus.policy import InboundAgreement, PolicyDocument, inbound_key, validate
from govbus.schemas.catalogue import default_catalogue

router = APIRouter(prefix="/v1/admin/inbound", tags=["admin"], responses=PROBLEM_RESPONSES)
PeerName = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{1,62}$")]
ViewInbound = Annotated[Grant, Depends(authorized(Action.VIEW_INBOUND))]
ManageInbound = Annotated[Grant, Depends(authorized(Action.MANAGE_INBOUND))]


async def _agreements(svc: ServicesDep) -> dict[str, InboundAgreement]:
    doc = await run_in_threadpool(policy_store.read, svc.bootstrap, svc.policy_topic)
    return {a.key: a for a in doc.inbound}


def _shown(agreement: InboundAgreement) -> dict[str, Any]:
    return {
        **agreement.model_dump(mode="json", by_alias=True, exclude_none=True),
        "etag": policy_store.etag(agreement),
    }


@router.get("")
async def list_inbound(svc: ServicesDep, grant: ViewInbound) -> dict[str, Any]:
    """Every inbound agreement, with the state of the peer's subscription it copies."""
    return {"inbound": [_shown(a) for a in (await _agreements(svc)).values()]}


@router.put("/{peer}/{sub_id}")
async def put_inbound(
    peer: PeerName,
    sub_id: SubscriptionId,
    subscription: dict[str, Any],
    *,
    response: Response,
    svc: ServicesDep,
    grant: ManageInbound,
    if_match: IfMatch = None,
) -> dict[str, Any]:
    """Record (201) or replace (200) what this bus accepts from ``peer``: the body is the
    peer's subscription ``sub_id`` for this bus, as the peer's policy holds it. Unknown or
    not-shared types, unknown fields and invalid masks are refused (422)."""
    if subscription.setdefault("id", sub_id) != sub_id:
        raise Problem(422, "id-mismatch", f"the body is subscription {subscription['id']!r}")
    try:
        agreement = InboundAgreement.model_validate({"peer": peer, "subscription": subscription})
    except ValidationError as exc:
        raise Problem(422, "invalid-agreement", str(exc.errors()[:3])) from None
    problems = validate(PolicyDocument(inbound=[agreement]), default_catalogue())
    if problems:
        raise Problem(422, "invalid-agreement", "; ".join(problems))
    existed: list[bool] = []

    def put(current: InboundAgreement | None) -> tuple[InboundAgreement, str]:
        existed.append(current is not None)
        return agreement, "inbound replaced" if current is not None else "inbound agreed"

    await change_policy(
        svc,
        grant.who,
        response,
        key=agreement.key,
        kind=InboundAgreement,
        change=put,
        if_match=if_match,
    )
    response.status_code = 200 if existed[-1] else 201
    return _shown(agreement)


@router.post("/{peer}/{sub_id}/revoke")
async def revoke_inbound(
    peer: PeerName,
    sub_id: SubscriptionId,
    decision: Decision,
    *,
    response: Response,
    svc: ServicesDep,
    grant: ManageInbound,
    if_match: IfMatch = None,
) -> dict[str, Any]:
    """Stop accepting what ``peer`` sends under ``sub_id``: from then on its events are
    dead-lettered here with ``federation.no_agreement`` (the peer keeps delivering until
    its own side revokes; nothing is lost)."""

    def stop(agreement: InboundAgreement | None) -> tuple[InboundAgreement, str]:
        if agreement is None:
            raise Problem(404, "no-such-agreement", f"no inbound agreement {sub_id} with {peer}")
        revoked = agreement.model_copy(
            update={"subscription": policy_store.revoked(agreement.subscription, decision.reason)}
        )
        return revoked, "inbound revoked"

    key = inbound_key(peer, sub_id)
    return _shown(
        await change_policy(
            svc, grant.who, response, key=key, kind=InboundAgreement, change=stop, if_match=if_match
        )
    )

"""Trust routes: a person's disclosure report, recipients acknowledging corrections, and
licence verification. Each answers from an index in PostgreSQL, never by scanning Kafka,
and each use is audited."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from govbus.disclosures import subject_pseudonyms
from govbus.gateway.auth import Principal
from govbus.gateway.deps import ServicesDep, principal, subscriber
from govbus.gateway.problems import PROBLEM_RESPONSES, Problem
from govbus.licences import status
from govbus.schemas.catalogue import default_catalogue
from govbus.schemas.identifiers import check_licence_id

router = APIRouter(prefix="/v1", tags=["trust"], responses=PROBLEM_RESPONSES)
_DELIVERY_ID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


def portal_or_admin(who: Annotated[Principal, Depends(principal)]) -> Principal:
    if not {"citizen_portal", "admin"} & set(who.roles):
        raise Problem(403, "forbidden", "disclosure reports need the citizen_portal or admin role")
    return who


@router.get("/subjects/{subject_id}/disclosures")
async def disclosures(
    svc: ServicesDep,
    who: Annotated[Principal, Depends(portal_or_admin)],
    subject_id: Annotated[
        str,
        Path(
            pattern=r"^[0-9A-Z]{6,20}$",
            description="citizen ID, unified social credit code or certificate number",
        ),
    ],
) -> dict[str, Any]:
    """Every delivery of this person's or enterprise's data: to whom, which fields and how
    masked, when, under which subscription, legal basis and purpose, and whether the
    recipient read it. The identifier is turned into keyed pseudonyms and never stored."""
    subjects = subject_pseudonyms(svc.pseudonymizer, default_catalogue(), subject_id)
    rows = await run_in_threadpool(svc.disclosures.report, subjects)
    svc.audit.record(
        "disclosure_viewed",
        subscriber=who.department,
        detail=f"{who.credential}: {len(rows)} deliveries for {','.join(s[:16] for s in subjects)}",
    )
    return {"count": len(rows), "disclosures": [d.to_json() for d in rows]}


class AckRequest(BaseModel):
    ids: list[Annotated[str, Field(pattern=_DELIVERY_ID)]] = Field(min_length=1, max_length=500)


@router.post("/corrections/ack", status_code=204)
async def ack_corrections(
    body: AckRequest, svc: ServicesDep, who: Annotated[Principal, Depends(subscriber)]
) -> Response:
    """Confirm you applied these corrections or retractions (their delivery ids). Only your
    own deliveries count: an id of another department's delivery has no effect."""
    for delivery_id in body.ids:
        svc.audit.record(
            "correction_acked",
            subscriber=who.department,
            delivery_id=delivery_id,
            detail=who.credential,
        )
    return Response(status_code=204)


@router.get("/licences/verify")
async def verify_licence(
    svc: ServicesDep,
    who: Annotated[Principal, Depends(subscriber)],
    licence_id: Annotated[
        str, Query(min_length=10, max_length=80, description="GB/T 36904 identifier")
    ],
    purpose: Annotated[str, Query(min_length=3, max_length=200, description="why you check it")],
) -> dict[str, str]:
    """valid, revoked, expired, not_yet_valid or unknown -- and nothing else about the
    licence. Every check is audited with its stated purpose."""
    problem = check_licence_id(licence_id)
    if problem is not None:
        raise Problem(422, "identifier-licence_id", problem)
    state = await run_in_threadpool(svc.licences.state, licence_id)
    today = dt.date.today()
    answer = status(state, today)
    svc.audit.record(
        "licence_verified",
        subscriber=who.department,
        detail=f"{licence_id} -> {answer}; purpose: {purpose}",
    )
    return {"licence_id": licence_id, "status": answer, "as_of": today.isoformat()}

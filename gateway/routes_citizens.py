"""Trust routes: a person's disclosure report, recipients acknowledging corrections, and
licence verification. Each answers from an index in PostgreSQL, never by scanning Kafka,
and each use is audited.

The disclosure report is the citizen's: only the citizen portal asks for it, with the
citizen's own signed assertion (assertions.py) naming the identifier, limited per portal
credential and per subject. The identifier travels in the body (a URL ends up in access
logs) and is turned into keyed pseudonyms at once; it is never stored or logged."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from govbus.disclosures import subject_pseudonyms
from govbus.gateway.authority import Action
from govbus.gateway.deps import Grant, ServicesDep, authorized
from govbus.gateway.problems import PROBLEM_RESPONSES, Problem
from govbus.licences import status
from govbus.schemas.catalogue import default_catalogue
from govbus.schemas.identifiers import check_licence_id

router = APIRouter(prefix="/v1", tags=["trust"], responses=PROBLEM_RESPONSES)
_DELIVERY_ID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
ViewDisclosures = Annotated[Grant, Depends(authorized(Action.VIEW_DISCLOSURES))]
AckCorrections = Annotated[Grant, Depends(authorized(Action.ACK_CORRECTIONS))]
VerifyLicence = Annotated[Grant, Depends(authorized(Action.VERIFY_LICENCE))]
HOUR = 3600


class DisclosureRequest(BaseModel):
    identifier: str = Field(
        pattern=r"^[0-9A-Z]{6,20}$",
        description="citizen ID, unified social credit code or certificate number",
    )
    assertion: str = Field(
        min_length=16,
        max_length=4096,
        description="the citizen's assertion: a JWT from the portal's login service naming "
        "the identifier (sub or govbus_ids), single use",
    )


@router.post("/disclosures")
async def disclosures(
    body: DisclosureRequest, svc: ServicesDep, grant: ViewDisclosures
) -> dict[str, Any]:
    """Every delivery of this person's or enterprise's data: to whom, which fields and how
    masked, when, under which agreement, legal basis and purpose, and whether the recipient
    read it -- without delivery or event ids. Citizen portal only, for the identifiers the
    citizen's assertion names."""
    who = grant.who
    svc.limiter.limit(
        f"disclosures:caller:{who.credential}",
        svc.settings.disclosure_per_caller_per_minute,
        60,
        code="rate-limited",
        detail="too many disclosure reports from this credential this minute",
    )
    asserted = svc.assertions.verify(body.assertion)
    if body.identifier not in asserted.identifiers:
        raise Problem(
            403, "not-asserted", "the assertion does not name this identifier for the citizen"
        )
    subjects = subject_pseudonyms(svc.pseudonymizer, default_catalogue(), body.identifier)
    # Keyed pseudonyms, never the identifier, name the counter.
    subject_key = hashlib.sha256("|".join(subjects).encode()).hexdigest()[:32]
    svc.limiter.limit(
        f"disclosures:subject:{subject_key}",
        svc.settings.disclosure_per_subject_per_hour,
        HOUR,
        code="rate-limited",
        detail="too many disclosure reports about this identifier this hour",
    )
    rows = await run_in_threadpool(svc.disclosures.report, subjects)
    svc.audit.record(
        "disclosure_viewed",
        subscriber=who.department,
        detail=f"{who.credential} assertion {asserted.jti[:64]}: {len(rows)} deliveries for "
        f"{','.join(s[:16] for s in subjects)}",
    )
    return {"count": len(rows), "disclosures": [d.for_citizen() for d in rows]}


class AckRequest(BaseModel):
    ids: list[Annotated[str, Field(pattern=_DELIVERY_ID)]] = Field(min_length=1, max_length=500)


@router.post("/corrections/ack", status_code=204)
async def ack_corrections(body: AckRequest, svc: ServicesDep, grant: AckCorrections) -> Response:
    """Confirm you applied these corrections or retractions (their delivery ids). Only your
    own deliveries count: an id of another department's delivery has no effect."""
    for delivery_id in body.ids:
        svc.audit.record(
            "correction_acked",
            subscriber=grant.who.department,
            delivery_id=delivery_id,
            detail=grant.who.credential,
        )
    return Response(status_code=204)


@router.get("/licences/verify")
async def verify_licence(
    svc: ServicesDep,
    grant: VerifyLicence,
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
        subscriber=grant.who.department,
        detail=f"{licence_id} -> {answer}; purpose: {purpose}",
    )
    return {"licence_id": licence_id, "status": answer, "as_of": today.isoformat()}

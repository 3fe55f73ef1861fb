"""Publisher route: POST /v1/publish/{type} -- JSON validated against the Avro schema, then
Kafka through the publisher SDK. Idempotent: a client-supplied id becomes the event id, and
the bus counts a repeat as a duplicate."""

from __future__ import annotations

import asyncio
import re
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Path, Request
from fastapi.responses import JSONResponse

from govbus.adapters.publisher import PublishError
from govbus.gateway.authority import Action, Target
from govbus.gateway.deps import Grant, ServicesDep, authorized
from govbus.gateway.problems import PROBLEM_RESPONSES, Problem
from govbus.schemas.catalogue import default_catalogue
from govbus.schemas.jsonvalues import FieldValueError, to_record

router = APIRouter(prefix="/v1/publish", tags=["publishers"], responses=PROBLEM_RESPONSES)
_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")


PublishGrant = Annotated[Grant, Depends(authorized(Action.PUBLISH))]


@router.post("/{event_type}", status_code=202)
async def publish(
    request: Request,
    svc: ServicesDep,
    grant: PublishGrant,
    event_type: Annotated[str, Path(pattern=r"^gov\.[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")],
    data: Annotated[dict[str, Any], Body(description="the event's data, as JSON")],
    *,
    idempotency_key: Annotated[str | None, Header()] = None,
    ce_id: Annotated[str | None, Header()] = None,
    corrects: Annotated[
        str | None,
        Header(alias="ce-govbuscorrects", description="id of your earlier event this corrects"),
    ] = None,
    retract: Annotated[
        bool,
        Header(alias="ce-govbusretract", description="true: withdraw that event, not amend it"),
    ] = False,
) -> JSONResponse:
    """Publish an event your department owns; 202 with its event id once Kafka (acks=all)
    has it. Send ``Idempotency-Key`` (or ``ce-id``) to make retries safe, and
    ``ce-govbuscorrects`` to correct an earlier event: the bus sends the new facts to exactly
    the departments that received the original."""
    event_id = idempotency_key or ce_id
    for name, value in (("Idempotency-Key", event_id), ("ce-govbuscorrects", corrects)):
        if value is not None and not _ID_RE.match(value):
            raise Problem(422, "invalid-request", f"{name}: 8-128 of A-Z a-z 0-9 . _ : -")
    who = grant.who
    known = default_catalogue().get(event_type, None)
    if known is None:
        raise Problem(404, "catalogue-unknown_type", f"unknown event type {event_type}")
    grant.check(Target(department=known.owner))
    pub = svc.publishers.get(who.department)
    try:
        event = pub.encoder.event_type(event_type, None)
        record = to_record(event, data)
        future = pub.publish(
            event_type, record, event_id=event_id, corrects=corrects, retract=retract
        )
    except PublishError as exc:
        status = (
            403
            if exc.reason == "policy.not_owner"
            else (404 if exc.reason == "catalogue.unknown_type" else 422)
        )
        raise Problem(status, exc.reason.replace(".", "-"), str(exc)) from None
    except FieldValueError as exc:
        raise Problem(422, exc.reason.replace(".", "-"), str(exc)) from None
    try:
        result = await asyncio.wrap_future(future)
    except PublishError as exc:
        raise Problem(503, "kafka-unavailable", str(exc)) from None
    svc.audit.record(
        "published",
        subscriber=who.department,
        delivery_id=result.event_id,
        detail=f"{event.ce_type} by {who.credential} request "
        f"{request.state.request_id} at {result.topic}/{result.partition}/"
        f"{result.offset}",
    )
    return JSONResponse({"id": result.event_id, "type": event.ce_type}, status_code=202)

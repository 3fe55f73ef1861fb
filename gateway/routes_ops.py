"""Ops routes: what happened to one event (``GET /v1/ops/trace/{event_id}``), from the
trace index and the audit topic (trace_index.py), for the data-management bureau's admins
and auditors -- the same answer as `govbus trace`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from fastapi.concurrency import run_in_threadpool

from govbus.gateway.authority import Action
from govbus.gateway.deps import Grant, ServicesDep, authorized
from govbus.gateway.problems import PROBLEM_RESPONSES, Problem

router = APIRouter(prefix="/v1/ops", tags=["ops"], responses=PROBLEM_RESPONSES)
EventId = Annotated[str, Path(min_length=1, max_length=200)]
ViewTrace = Annotated[Grant, Depends(authorized(Action.VIEW_TRACE))]


@router.get("/trace/{event_id}")
async def trace(event_id: EventId, svc: ServicesDep, grant: ViewTrace) -> dict[str, Any]:
    """Accepted, delivered to whom with which fields and masks, duplicates, dead letters
    (why), read by whom; with the traces that cover the event. 404 until the trace index
    has a record of it (not published, not processed, or not indexed yet)."""
    found = await run_in_threadpool(svc.traces, event_id)
    if found is None:
        raise Problem(404, "event-not-found", "the trace index has no record of this event")
    return found.to_json()

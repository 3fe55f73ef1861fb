"""The console's ops pages (the bureau): throughput and lag, dead letters by reason with
redrive, and the trace view of one event (what `govbus trace` shows, with links to the
trace UI)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse

from govbus.dlq import redrive
from govbus.gateway.authority import Action
from govbus.gateway.console import observe
from govbus.gateway.console.web import PREFIX, may, may_post, render
from govbus.gateway.deps import Grant, ServicesDep
from govbus.trace_index import EventTrace

router = APIRouter(prefix=PREFIX, include_in_schema=False)
ViewOps = Annotated[Grant, Depends(may(Action.VIEW_OPS))]
Redrive = Annotated[Grant, Depends(may_post(Action.REDRIVE))]
WINDOW_MIN = 15
LETTERS = dt.timedelta(days=7)
EVENT_ID = r"^[A-Za-z0-9._:-]{1,80}$"


@router.get("/ops")
async def ops(request: Request, svc: ServicesDep, grant: ViewOps) -> HTMLResponse:
    window = dt.timedelta(minutes=WINDOW_MIN)
    audit = await run_in_threadpool(observe.recent_audit, svc.bootstrap, window)
    letters = await run_in_threadpool(observe.dead_letters, svc.bootstrap, LETTERS)
    lags = await run_in_threadpool(observe.delivery_lags, svc.bootstrap)
    context = {
        "throughput": observe.throughput(audit, WINDOW_MIN),
        "kinds": ["accepted", "delivered", "duplicate", "dead_letter", "read"],
        "lags": lags,
        "reasons": observe.by_reason(letters),
        "letters": letters[-20:],
        "flash": request.query_params,
    }
    return render(request, "ops.html", context)


@router.post("/ops/redrive")
async def redrive_reason(
    svc: ServicesDep, grant: Redrive, reason: Annotated[str, Form(min_length=1, max_length=120)]
) -> Response:
    """Send the last week's dead letters with this reason back to their event topics (after
    the cause was fixed); what is still wrong returns to the dead-letter topic."""
    letters = await run_in_threadpool(observe.dead_letters, svc.bootstrap, LETTERS)
    chosen = [d for d in letters if d.reason == reason]
    count = await run_in_threadpool(redrive, svc.bootstrap, chosen)
    svc.audit.record(
        "policy",
        subscriber=grant.who.department,
        detail=f"redrove {count} dead letters ({reason}) by {grant.who.department} "
        f"({grant.who.credential})",
    )
    return RedirectResponse(f"{PREFIX}/ops?redriven={count}&reason={reason}", status_code=303)


@router.get("/trace")
async def trace(
    request: Request,
    svc: ServicesDep,
    grant: ViewOps,
    event_id: Annotated[str, Query(pattern=EVENT_ID)],
) -> HTMLResponse:
    found = await run_in_threadpool(svc.traces, event_id)  # the index, as GET /v1/ops/trace
    return render(
        request,
        "trace.html",
        {
            "trace": found or EventTrace(event_id, [], {}),
            "trace_ui": svc.settings.jaeger_url.rstrip("/"),
        },
        200 if found else 404,
    )

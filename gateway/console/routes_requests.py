"""Console pages for access requests: the request form with a preview of exactly what would
be delivered for a sample event, the providers' inbox with its working-day deadlines, and
approve / reject / revoke. Every change calls the admin API's own route functions
(routes_admin), so it is decided, validated, written and audited by the same code."""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from govbus.gateway import routes_admin
from govbus.gateway.authority import Action
from govbus.gateway.console.preview import preview, rules_for
from govbus.gateway.console.web import PREFIX, may, may_post, render
from govbus.gateway.deps import Grant, ServicesDep
from govbus.gateway.problems import Problem
from govbus.schemas.catalogue import EventType, default_catalogue

router = APIRouter(prefix=PREFIX, include_in_schema=False)
SubscriptionId = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9._-]{1,80}$")]
RULE_PREFIX = "rule."


def requestable(department: str) -> list[EventType]:
    """The types a department may ask for: shared, and not its own conditional data."""
    catalogue = default_catalogue()
    latest = [catalogue.latest(name) for name in catalogue.types()]
    return [
        e
        for e in latest
        if e is not None
        and e.sharing != "not_shared"
        and not (e.sharing == "conditional" and e.owner == department)
    ]


def _form_context(
    svc: ServicesDep, grant: Grant, values: dict[str, Any], error: str = ""
) -> dict[str, Any]:
    types = requestable(grant.who.department)
    chosen = default_catalogue().latest(str(values.get("event_type") or ""))
    if chosen is None or chosen not in types:
        chosen = types[0] if types else None
    rows, rules = [], {}
    if chosen is not None:
        rules = {name: rules_for(spec) for name, spec in chosen.fields.items()}
        subscriber = grant.who.department
        rows = preview(
            chosen,
            values.get("fields", {}),
            lambda kind, v: svc.pseudonymizer.for_subscriber(subscriber, kind, v),
        )
    return {
        "types": types,
        "chosen": chosen,
        "rules": rules,
        "rows": rows,
        "values": values,
        "error": error,
    }


ViewRequest = Annotated[Grant, Depends(may(Action.REQUEST_SUBSCRIPTION))]
PostRequest = Annotated[Grant, Depends(may_post(Action.REQUEST_SUBSCRIPTION))]


@router.get("/requests/new")
async def request_form(
    request: Request, svc: ServicesDep, grant: ViewRequest, event_type: str = ""
) -> HTMLResponse:
    values = {
        "event_type": event_type,
        "id": f"{grant.who.department.replace('_', '-')}-{uuid.uuid4().hex[:6]}",
        "fields": {},
    }
    return render(request, "request.html", _form_context(svc, grant, values))


async def _values(request: Request) -> dict[str, Any]:
    form = await request.form()
    fields = {
        str(k).removeprefix(RULE_PREFIX): str(v)
        for k, v in form.multi_items()
        if str(k).startswith(RULE_PREFIX) and str(v)
    }
    return {
        "event_type": str(form.get("event_type", "")),
        "id": str(form.get("id", "")).strip(),
        "legal_basis": str(form.get("legal_basis", "")).strip(),
        "purpose": str(form.get("purpose", "")).strip(),
        "filter": str(form.get("filter", "")).strip(),
        "fields": fields,
        "action": str(form.get("action", "preview")),
    }


@router.post("/requests")
async def submit_request(request: Request, svc: ServicesDep, grant: PostRequest) -> Response:
    """Preview (re-render with what would be delivered) or submit: the admin API's own
    request_subscription decides, validates, writes and audits it."""
    values = await _values(request)
    if values["action"] != "submit":
        return render(request, "request.html", _form_context(svc, grant, values))
    try:
        body = routes_admin.SubscriptionRequest(
            id=values["id"],
            subscriber=grant.who.department,
            event_types=[values["event_type"]],
            fields=values["fields"],
            legal_basis=values["legal_basis"],
            purpose=values["purpose"],
            filter=json.loads(values["filter"]) if values["filter"] else None,
        )
        await routes_admin.request_subscription(body, Response(), svc, grant)
    except (ValueError, ValidationError) as exc:  # bad JSON filter, bad shape
        message = f"not a valid request: {exc}"[:400]
        return render(request, "request.html", _form_context(svc, grant, values, message), 422)
    except Problem as exc:
        if exc.status == 403:
            raise
        return render(
            request, "request.html", _form_context(svc, grant, values, exc.detail), exc.status
        )
    return RedirectResponse(f"{PREFIX}/grants?requested={values['id']}", status_code=303)


ViewApprovals = Annotated[Grant, Depends(may(Action.VIEW_APPROVALS))]
DecidePost = Annotated[Grant, Depends(may_post(Action.DECIDE_SUBSCRIPTION))]
RevokePost = Annotated[Grant, Depends(may_post(Action.REVOKE_SUBSCRIPTION))]
Reason = Annotated[str, Form(min_length=3, max_length=500)]


@router.get("/inbox")
async def inbox(request: Request, svc: ServicesDep, grant: ViewApprovals) -> HTMLResponse:
    """The parts of requests awaiting an answer that this department provides (or asked
    for), oldest deadline first, overdue ones marked."""
    answer = await routes_admin.inbox(svc, grant)
    return render(request, "inbox.html", {"inbox": answer, "done": request.query_params})


@router.post("/subscriptions/{sub_id}/approve")
async def approve(
    sub_id: SubscriptionId, svc: ServicesDep, grant: DecidePost, reason: Reason
) -> Response:
    decision = routes_admin.Decision(reason=reason, reference=reason[:200])
    await routes_admin.approve(sub_id, decision, response=Response(), svc=svc, grant=grant)
    return RedirectResponse(f"{PREFIX}/inbox?approved={sub_id}", status_code=303)


@router.post("/subscriptions/{sub_id}/reject")
async def reject(
    sub_id: SubscriptionId, svc: ServicesDep, grant: DecidePost, reason: Reason
) -> Response:
    await routes_admin.reject(
        sub_id, routes_admin.Decision(reason=reason), response=Response(), svc=svc, grant=grant
    )
    return RedirectResponse(f"{PREFIX}/inbox?rejected={sub_id}", status_code=303)


@router.post("/subscriptions/{sub_id}/revoke")
async def revoke(
    sub_id: SubscriptionId, svc: ServicesDep, grant: RevokePost, reason: Reason
) -> Response:
    await routes_admin.revoke(
        sub_id, routes_admin.Decision(reason=reason), response=Response(), svc=svc, grant=grant
    )
    return RedirectResponse(f"{PREFIX}/grants?revoked={sub_id}", status_code=303)

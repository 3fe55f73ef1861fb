"""The console's "grants and deliveries" page: the subscriptions a department holds and those
it provides data to (through the admin API's own listing, so each is filtered by the same
authority check), what it receives from whom and masked how, its lag, its recent deliveries
(fields and masks, never values) and the dead letters of what it published."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from govbus.gateway import routes_admin
from govbus.gateway.authority import Action, decide
from govbus.gateway.console import observe
from govbus.gateway.console.web import PREFIX, may, render
from govbus.gateway.deps import Grant, ServicesDep
from govbus.policy import Subscription

router = APIRouter(prefix=PREFIX, include_in_schema=False)
ViewSubscriptions = Annotated[Grant, Depends(may(Action.VIEW_SUBSCRIPTIONS))]
RECENT = dt.timedelta(hours=24)
LETTERS = dt.timedelta(days=7)
SHOWN = 50


def _row(shown: dict[str, Any], grant: Grant) -> dict[str, Any]:
    # The admin API shows each entry with its ETag, which is not part of the entry.
    sub = Subscription.model_validate({k: v for k, v in shown.items() if k != "etag"})
    target = routes_admin.target_of(sub)
    return {
        **shown,
        "providers": sorted(target.owners),
        "revocable": sub.status in ("active", "pending")
        and "admin" in grant.who.roles
        and decide(grant.who, Action.REVOKE_SUBSCRIPTION, target).allowed,
    }


@router.get("/grants")
async def grants(request: Request, svc: ServicesDep, grant: ViewSubscriptions) -> HTMLResponse:
    me = grant.who.department
    listed = (await routes_admin.list_subscriptions(svc, grant))["subscriptions"]
    rows = [_row(s, grant) for s in listed]
    audit = await run_in_threadpool(observe.recent_audit, svc.bootstrap, RECENT)
    letters = await run_in_threadpool(observe.dead_letters, svc.bootstrap, LETTERS)
    (lag,) = await run_in_threadpool(observe.delivery_lags, svc.bootstrap, me)
    context = {
        "receives": [r for r in rows if r["subscriber"] == me],
        "provides": [r for r in rows if r["subscriber"] != me and me in r["providers"]],
        "others": [r for r in rows if r["subscriber"] != me and me not in r["providers"]],
        "deliveries": observe.deliveries_to(audit, me)[:SHOWN],
        "letters": observe.letters_from(letters, me)[-SHOWN:],
        "lag": lag,
        "flash": request.query_params,
    }
    return render(request, "grants.html", context)

"""The citizen view, through the citizen-portal role: the disclosure report a person sees
(who received their data, which fields and how masked, why, read or not), in Chinese and
English. The report comes from the API's own route (routes_citizens.disclosures): the same
signed assertion of the citizen, the same rate limits, the same audit record."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from govbus.gateway import routes_citizens
from govbus.gateway.authority import Action
from govbus.gateway.console.i18n import LABELS, RULES
from govbus.gateway.console.web import PREFIX, may, may_post, render
from govbus.gateway.deps import Grant, ServicesDep
from govbus.gateway.problems import Problem

router = APIRouter(prefix=PREFIX, include_in_schema=False)
Lang = Literal["zh", "en"]
ViewDisclosures = Annotated[Grant, Depends(may(Action.VIEW_DISCLOSURES))]
AskDisclosures = Annotated[Grant, Depends(may_post(Action.VIEW_DISCLOSURES))]


def _labels(lang: Lang) -> dict[str, str]:
    return {key: texts[lang] for key, texts in LABELS.items()}


def _rules(lang: Lang) -> dict[str, str]:
    return {key: texts[lang] for key, texts in RULES.items()}


@router.get("/citizen")
async def citizen_form(request: Request, grant: ViewDisclosures, lang: Lang = "zh") -> HTMLResponse:
    context = {"t": _labels(lang), "rules": _rules(lang), "lang": lang, "report": None, "error": ""}
    return render(request, "citizen.html", context)


@router.post("/citizen")
async def citizen_report(
    *,
    request: Request,
    svc: ServicesDep,
    grant: AskDisclosures,
    identifier: Annotated[str, Form(max_length=40)],
    assertion: Annotated[str, Form(max_length=4096)],
    lang: Annotated[Lang, Form()] = "zh",
) -> HTMLResponse:
    context = {"t": _labels(lang), "rules": _rules(lang), "lang": lang, "report": None, "error": ""}
    try:
        body = routes_citizens.DisclosureRequest(
            identifier=identifier.strip().upper(), assertion=assertion.strip()
        )
        context["report"] = await routes_citizens.disclosures(body, svc, grant)
    except ValidationError:
        context["error"] = "invalid identifier or assertion"
        return render(request, "citizen.html", context, 422)
    except Problem as exc:
        context["error"] = exc.detail
        return render(request, "citizen.html", context, exc.status)
    return render(request, "citizen.html", context)

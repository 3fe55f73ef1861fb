"""The console's plumbing: templates, who is logged in (the session cookie, re-checked against
the key store on every request), the authority check per page (authority.decide, as every
API route), CSRF on every form, and errors as HTML pages for browsers."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, cast

import jinja2
from fastapi import Depends, FastAPI, Form, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from govbus.gateway.authority import Action, Principal
from govbus.gateway.console import session as sessions
from govbus.gateway.deps import Grant, Services, ServicesDep, enforce
from govbus.gateway.problems import Problem, problem_response

PREFIX = "/console"
HERE = Path(__file__).parent
SESSION_TTL_S = 8 * 3600
templates = Jinja2Templates(
    env=jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
)


class LoginRequiredError(Exception):
    """No valid session: the browser is sent to the login page."""


def secret(svc: Services) -> bytes:
    return sessions.derive_secret(svc.settings.api_key_pepper.get_secret_value().encode())


def current_session(request: Request, svc: ServicesDep) -> sessions.Session:
    """The logged-in session, its key still active (a revoked key ends it at once)."""
    found = sessions.read_session(request.cookies.get(sessions.COOKIE), secret(svc), time.time())
    if found is None or svc.auth.still_valid(found.principal()) is not None:
        raise LoginRequiredError
    svc.limiter.check(found.department)
    request.state.console_session = found
    return found


SessionDep = Annotated[sessions.Session, Depends(current_session)]


def checked_form(
    session: SessionDep, svc: ServicesDep, csrf: Annotated[str | None, Form()] = None
) -> sessions.Session:
    """A POSTed form of this session: its CSRF token must be the session's."""
    if not sessions.csrf_ok(session, secret(svc), csrf):
        raise Problem(403, "csrf-failed", "the form's CSRF token is missing or not this session's")
    return session


PostedDep = Annotated[sessions.Session, Depends(checked_form)]


def may(action: Action) -> Callable[..., Grant]:
    """The page's authority dependency: the role is decided (authority.decide) before the page
    reads anything; the page decides each target with Grant.check / Grant.allows."""

    def dependency(session: SessionDep) -> Grant:
        who = session.principal()
        enforce(who, action)
        return Grant(who, action)

    return dependency


def may_post(action: Action) -> Callable[..., Grant]:
    """As ``may``, for a form: the CSRF token is checked first."""

    def dependency(session: PostedDep) -> Grant:
        who = session.principal()
        enforce(who, action)
        return Grant(who, action)

    return dependency


def render(
    request: Request, template: str, context: dict[str, Any], status: int = 200
) -> HTMLResponse:
    found: sessions.Session | None = getattr(request.state, "console_session", None)
    svc: Services = request.app.state.services
    base = {
        "who": found.principal() if found else None,
        "csrf": sessions.csrf_token(found, secret(svc)) if found else "",
        "prefix": PREFIX,
        "menu": menu(found.principal()) if found else [],
    }
    response = templates.TemplateResponse(request, template, {**base, **context}, status)
    response.headers["Cache-Control"] = "no-store"
    return response


def menu(who: Principal) -> list[tuple[str, str]]:
    """The pages this principal's roles open (each page still decides for itself)."""
    items = [("catalogue", "Catalogue")]
    if who.roles & {"admin", "auditor"}:
        items += [
            ("requests/new", "Request access"),
            ("inbox", "Approvals inbox"),
            ("grants", "Grants & deliveries"),
        ]
    if who.bureau and who.roles & {"admin", "auditor"}:
        items.append(("ops", "Ops"))
    if "citizen_portal" in who.roles:
        items.append(("citizen", "Disclosure report"))
    return items


def _wants_html(request: Request) -> bool:
    return request.url.path.startswith(PREFIX) and "text/html" in request.headers.get("accept", "")


Handler = Callable[[Request, Any], Awaitable[Response]]


def install(app: FastAPI) -> None:
    """Console errors as HTML pages (same status, same code) for browsers; problem+json for
    everyone else, by the handlers problems.install put in place before."""

    async def login_required(request: Request, exc: Exception) -> Response:
        if request.method == "GET" and _wants_html(request):
            return RedirectResponse(f"{PREFIX}/login", status_code=303)
        return problem_response(request, 401, "unauthorized", "log in to the console first")

    app.add_exception_handler(LoginRequiredError, login_required)
    for exc_class in (Problem, StarletteHTTPException, RequestValidationError):
        as_json = cast(Handler, app.exception_handlers[exc_class])

        async def handler(request: Request, exc: Any, as_json: Handler = as_json) -> Response:
            response = await as_json(request, exc)
            if not _wants_html(request):
                return response
            body = json.loads(bytes(response.body))  # the problem+json just made
            status = response.status_code
            return render(
                request,
                "error.html",
                {
                    "status": status,
                    "code": body["type"].rsplit("/", 1)[-1],
                    "detail": body["detail"],
                },
                status,
            )

        app.add_exception_handler(exc_class, handler)

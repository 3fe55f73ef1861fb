"""Console pages everyone logged in may open: login and logout, the home page, the catalogue
and its AsyncAPI document."""

from __future__ import annotations

import secrets
import time
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from govbus import __version__
from govbus.gateway.console import session as sessions
from govbus.gateway.console.catalogue_view import catalogue_rows, type_row
from govbus.gateway.console.web import (
    PREFIX,
    SESSION_TTL_S,
    PostedDep,
    SessionDep,
    render,
    secret,
)
from govbus.gateway.deps import ServicesDep
from govbus.gateway.problems import Problem
from govbus.schemas.asyncapi import asyncapi_document
from govbus.schemas.catalogue import default_catalogue

router = APIRouter(prefix=PREFIX, include_in_schema=False)


def _cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=PREFIX,
        httponly=True,
        samesite="strict",
        # Secure whenever the browser came over HTTPS (the gateway trusts the proxy's
        # X-Forwarded-Proto); local runs serve plain HTTP on loopback.
        secure=request.url.scheme == "https",
    )


@router.get("/login")
async def login_page(request: Request) -> HTMLResponse:
    nonce = secrets.token_urlsafe(16)
    response = render(request, "login.html", {"login_csrf": nonce, "error": ""})
    _cookie(request, response, sessions.LOGIN_COOKIE, nonce, 900)
    return response


@router.post("/login")
async def login(
    request: Request,
    svc: ServicesDep,
    api_key: Annotated[str, Form(max_length=200)],
    csrf: Annotated[str, Form(max_length=100)],
) -> Response:
    """An API key in, a session cookie out (HttpOnly, SameSite=Strict); the key is checked
    by the gateway's own authenticator and never stored in the cookie."""
    expected = request.cookies.get(sessions.LOGIN_COOKIE)
    if not expected or not secrets.compare_digest(expected.encode(), csrf.encode()):
        raise Problem(403, "csrf-failed", "reload the login page and try again")
    try:
        who = await run_in_threadpool(svc.auth.authenticate, None, api_key.strip())
    except Problem:
        nonce = secrets.token_urlsafe(16)
        page = render(
            request, "login.html", {"login_csrf": nonce, "error": "That API key is not valid."}, 401
        )
        _cookie(request, page, sessions.LOGIN_COOKIE, nonce, 900)
        return page
    cookie, _ = sessions.new_session(who, secret(svc), time.time(), SESSION_TTL_S)
    response = RedirectResponse(f"{PREFIX}/", status_code=303)
    _cookie(request, response, sessions.COOKIE, cookie, SESSION_TTL_S)
    response.delete_cookie(sessions.LOGIN_COOKIE, path=PREFIX)
    return response


@router.post("/logout")
async def logout(session: PostedDep) -> Response:  # a session logs out by its own form
    response = RedirectResponse(f"{PREFIX}/login", status_code=303)
    response.delete_cookie(sessions.COOKIE, path=PREFIX)
    return response


@router.get("/")
async def home(request: Request, session: SessionDep) -> HTMLResponse:
    return render(request, "home.html", {"session": session})


@router.get("/catalogue")
async def catalogue(request: Request, session: SessionDep) -> HTMLResponse:
    return render(request, "catalogue.html", {"types": catalogue_rows(default_catalogue())})


@router.get("/catalogue/{type_name}")
async def event_type(request: Request, type_name: str, session: SessionDep) -> HTMLResponse:
    row = type_row(default_catalogue(), type_name)
    if row is None:
        raise Problem(404, "no-such-type", f"no event type {type_name} in the catalogue")
    return render(request, "event_type.html", {"t": row})


@router.get("/asyncapi.json")
async def asyncapi(svc: ServicesDep, session: SessionDep) -> JSONResponse:
    """The AsyncAPI 3.0 document the catalogue derives (as `govbus schemas asyncapi`)."""
    doc: dict[str, Any] = asyncapi_document(
        default_catalogue(), version=__version__, server=svc.bootstrap
    )
    return JSONResponse(doc)

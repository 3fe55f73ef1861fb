"""RFC 9457 problem details: every error the gateway returns, and nothing else (no stack
traces, no internals)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger(__name__)


class ProblemDetails(BaseModel):
    """The body of every error (RFC 9457)."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    request_id: str


_ERRORS = {
    400: "malformed request",
    401: "no or invalid credentials",
    403: "authenticated, but not allowed (role, ownership, grant)",
    404: "no such resource, or nothing granted to you",
    406: "none of the media types in Accept is offered (the detail lists those that are)",
    409: "conflicts with the current state",
    411: "Content-Length required",
    413: "body too large",
    422: "invalid request or event data (the detail names the field)",
    429: "rate limit or daily quota exceeded (see Retry-After)",
    503: "a backing service (Kafka, Redis, PostgreSQL) is unavailable; retry",
}
# Attached to every router, so the OpenAPI document states every error a client can get.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"description": text, "model": ProblemDetails, "content": {PROBLEM_JSON: {}}}
    for status, text in _ERRORS.items()
}


class Problem(Exception):  # noqa: N818 - named after RFC 9457 "problem details"
    def __init__(
        self, status: int, code: str, detail: str, *, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers or {}


def problem_response(
    request: Request, status: int, code: str, detail: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {
        "type": f"https://govbus.example/problems/{code}",
        "title": code.replace("-", " "),
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        "request_id": getattr(request.state, "request_id", ""),
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(request, exc.status, exc.code, exc.detail, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:10]
        )
        return problem_response(request, 422, "invalid-request", fields)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
        return problem_response(request, exc.status_code, code, str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # The route template, not the path: a path may hold an identifier (access_log).
        route = getattr(request.scope.get("route"), "path", "")
        log.exception("unhandled error", extra={"route": route, "method": request.method})
        return problem_response(
            request,
            500,
            "internal-error",
            "the gateway failed; the request id identifies it in the logs",
        )

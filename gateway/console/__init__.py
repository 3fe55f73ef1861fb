"""The console: server-rendered pages for the bureau, departments, ops and citizens, served by
the gateway under /console with the gateway's own authentication and authority model.

Pages ask authority.decide exactly as the API routes do (web.may), and every change goes
through the admin API's own functions (routes_admin), so it is audited the same way."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from govbus.gateway.console import (
    routes_citizen,
    routes_grants,
    routes_ops,
    routes_pages,
    routes_requests,
    web,
)


def install(app: FastAPI) -> None:
    """Mount the console's pages and stylesheet, and its HTML error pages."""
    web.install(app)
    app.mount(
        f"{web.PREFIX}/static", StaticFiles(directory=web.HERE / "static"), name="console-static"
    )
    for module in (routes_pages, routes_requests, routes_grants, routes_ops, routes_citizen):
        app.include_router(module.router)

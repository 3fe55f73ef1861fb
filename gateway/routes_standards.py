"""Standards documents and API docs served by the gateway itself: the AsyncAPI document of
the catalogue, and Swagger UI / ReDoc with their assets from a local package (no CDN: a
government network without internet access still shows them)."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from govbus import __version__
from govbus.gateway.deps import ServicesDep
from govbus.schemas.asyncapi import asyncapi_document
from govbus.schemas.catalogue import default_catalogue

STATIC = "/static/apidocs"
router = APIRouter(tags=["standards"])


def _document(request: Request, bootstrap: str) -> dict[str, Any]:
    return asyncapi_document(
        default_catalogue(),
        version=__version__,
        server=bootstrap,
        gateway=str(request.base_url).rstrip("/"),
    )


@router.get("/v1/asyncapi.json")
async def asyncapi_json(request: Request, svc: ServicesDep) -> Response:
    """The AsyncAPI 3.0 document: event, delivery and dead-letter channels on Kafka, and
    the gateway's HTTP pull and SSE channels."""
    text = json.dumps(_document(request, svc.bootstrap), ensure_ascii=False, indent=2)
    return Response(text, media_type="application/json")


class YAMLResponse(Response):
    """Declares application/yaml in the OpenAPI document (clients and fuzzers check it)."""

    media_type = "application/yaml"


# Not in the OpenAPI document: the same document as /v1/asyncapi.json, and OpenAPI cannot
# describe a YAML body's shape.
@router.get("/v1/asyncapi.yaml", response_class=YAMLResponse, include_in_schema=False)
async def asyncapi_yaml(request: Request, svc: ServicesDep) -> Response:
    """The same AsyncAPI document as YAML."""
    doc = _document(request, svc.bootstrap)
    return YAMLResponse(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False))


def assets_dir() -> Path:
    """Swagger UI's and ReDoc's files as the fastapi-offline package ships them."""
    return Path(str(resources.files("fastapi_offline").joinpath("static")))


def install_docs(app: FastAPI) -> None:
    """/docs (Swagger UI) and /redoc, every script, style and icon from STATIC."""
    app.mount(STATIC, StaticFiles(directory=assets_dir()), name="apidocs")
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} — Swagger UI",
            swagger_js_url=f"{STATIC}/swagger-ui-bundle.js",
            swagger_css_url=f"{STATIC}/swagger-ui.css",
            swagger_favicon_url=f"{STATIC}/favicon.png",
            # Swagger UI would otherwise send the document to an online validator.
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} — ReDoc",
            redoc_js_url=f"{STATIC}/redoc.standalone.js",
            redoc_favicon_url=f"{STATIC}/favicon.png",
            with_google_fonts=False,
        )

"""The gateway serves its standards documents and API docs itself: the AsyncAPI document
(valid AsyncAPI 3.0), and Swagger UI and ReDoc whose every asset is local."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin, urlparse

import httpx
import jsonschema
import pytest
import yaml

from govbus.config import ConnectionSettings, GatewaySettings
from govbus.schemas.catalogue import default_catalogue
from tests.integration.test_gateway import Gateway

# Every URL a page makes the browser fetch: src=, href=, url(...) and quoted strings in
# inline scripts (how Swagger UI and ReDoc are pointed at their scripts and documents).
URLS = re.compile(
    r"""(?:src|href)\s*=\s*["']([^"']+)["']|url\(["']?([^)"']+)|["'](https?://[^"']+|/[^"'\s]*)["']"""
)


TIMEOUT_S = 60  # the machine may be busy; the bundles are megabytes


@pytest.fixture(scope="module")
def gw(runtime: ConnectionSettings) -> Iterator[Gateway]:
    with Gateway(runtime, GatewaySettings()) as gateway:
        yield gateway


def urls_in(page: str) -> set[str]:
    return {next(g for g in m.groups() if g) for m in URLS.finditer(page)}


def test_the_url_scanner_sees_cdn_references() -> None:
    page = (
        '<link href="https://cdn.example/ui.css"><script src="/static/a.js"></script>'
        "<script>const ui = SwaggerUIBundle({url: '/openapi.json'})</script>"
    )
    assert urls_in(page) == {"https://cdn.example/ui.css", "/static/a.js", "/openapi.json"}


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_api_docs_load_nothing_from_outside(gw: Gateway, path: str) -> None:
    r = httpx.get(gw.url + path, timeout=TIMEOUT_S)
    assert r.status_code == 200
    assert "text/html" in r.headers["content-type"]
    urls = urls_in(r.text)
    assert any(u.endswith(".js") for u in urls)
    for url in urls:
        absolute = urljoin(gw.url + path, url)
        assert urlparse(absolute).netloc == urlparse(gw.url).netloc, url
        if url.startswith("/static/") or url == "/openapi.json":
            assert httpx.get(absolute, timeout=TIMEOUT_S).status_code == 200, url
    assert "googleapis" not in r.text
    assert "cdn" not in r.text.lower()


def test_the_served_assets_are_the_real_bundles(gw: Gateway) -> None:
    js = httpx.get(f"{gw.url}/static/apidocs/swagger-ui-bundle.js", timeout=TIMEOUT_S)
    assert js.status_code == 200
    assert len(js.content) > 500_000
    assert "SwaggerUIBundle" in js.text
    redoc = httpx.get(f"{gw.url}/static/apidocs/redoc.standalone.js", timeout=TIMEOUT_S)
    assert redoc.status_code == 200
    assert "Redoc" in redoc.text


def test_the_gateway_serves_a_valid_asyncapi_document(
    gw: Gateway, asyncapi_3_schema: dict[str, Any]
) -> None:
    as_json = httpx.get(f"{gw.url}/v1/asyncapi.json", timeout=TIMEOUT_S)
    assert as_json.status_code == 200
    assert as_json.headers["content-type"].startswith("application/json")
    doc = as_json.json()
    as_yaml = httpx.get(f"{gw.url}/v1/asyncapi.yaml", timeout=TIMEOUT_S)
    assert as_yaml.headers["content-type"].startswith("application/yaml")
    assert yaml.safe_load(as_yaml.text) == doc
    errors = list(jsonschema.Draft7Validator(asyncapi_3_schema).iter_errors(doc))
    assert [e.message[:200] for e in errors] == []
    assert doc["asyncapi"] == "3.0.0"
    assert doc["servers"]["gateway"]["host"] == gw.url.split("://")[1]
    topics = {c["address"] for c in doc["channels"].values()}
    assert {e.topic for e in default_catalogue()} <= topics
    assert {"/v1/events", "/v1/events/stream"} <= topics

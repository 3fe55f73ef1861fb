"""The gateway's HTTP telemetry over real HTTP against the real runtime: a server span per
request named by its route template, HTTP metrics by route template, nothing a URL or a
client carries (ids in the path, query strings, API keys, addresses) in any span or metric
attribute, and the request's trace and span ids in the gateway's log lines."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from opentelemetry import metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from govbus.config import ConnectionSettings, GatewaySettings
from govbus.gateway.keystore import KeyStore
from govbus.logs import JsonFormatter
from tests.integration.test_gateway import Gateway

# A path segment that looks like a citizen's ID and a query string that must not show.
CITIZEN_ID = "110102193805201633"
QUERY_SECRET = "q-secret-4d1f"


@pytest.fixture(scope="module")
def metric_reader() -> InMemoryMetricReader:
    """This process's metrics, in memory (the meter provider is process-wide: set once)."""
    reader = InMemoryMetricReader()
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    return reader


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter())
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def gateway(runtime: ConnectionSettings, uid: str) -> Iterator[tuple[Gateway, dict[str, str]]]:
    settings = GatewaySettings(rate_limit_per_minute=10_000)
    keys = KeyStore(runtime.pg, settings.api_key_pepper.get_secret_value().encode())
    keys.init()
    dept = f"tel_{uid}"
    issued = {
        "admin": keys.issue(dept, ["admin"]),
        "subscriber": keys.issue(dept, ["subscriber"]),
        "victim": keys.issue(dept, ["subscriber"]),
    }
    with Gateway(runtime, settings, log_level="info") as gw:
        yield gw, issued


def test_http_spans_and_metrics_name_routes_and_carry_no_identifier(
    gateway: tuple[Gateway, dict[str, str]],
    exporter: InMemorySpanExporter,
    metric_reader: InMemoryMetricReader,
) -> None:
    gw, issued = gateway
    victim_id = issued["victim"].split("_")[1]
    access = Lines()
    logging.getLogger("uvicorn.access").addHandler(access)
    try:
        with httpx.Client(base_url=gw.url, timeout=30) as http:
            admin = {"X-API-Key": issued["admin"]}
            sub = {"X-API-Key": issued["subscriber"]}
            assert http.delete(f"/v1/admin/keys/{victim_id}", headers=admin).status_code == 204
            assert http.get(f"/v1/admin/keys?x={QUERY_SECRET}", headers=admin).status_code == 200
            assert http.get(f"/v1/nothing/{CITIZEN_ID}", headers=sub).status_code == 404
            assert http.get("/healthz").status_code == 200
    finally:
        logging.getLogger("uvicorn.access").removeHandler(access)

    servers = [s for s in exporter.get_finished_spans() if s.kind == SpanKind.SERVER]
    by_name = {s.name: s for s in servers}
    assert "DELETE /v1/admin/keys/{key_id}" in by_name, sorted(by_name)
    assert by_name["DELETE /v1/admin/keys/{key_id}"].attributes["http.route"] == (
        "/v1/admin/keys/{key_id}"
    )
    listing = by_name["GET /v1/admin/keys"]
    assert listing.attributes["http.response.status_code"] == 200
    assert listing.attributes["http.request.method"] == "GET"
    assert "GET" in by_name  # the unknown path: the method only, not the path
    assert not any("healthz" in s.name for s in servers)  # probes are not traced
    # Only server spans: the ASGI layer's per-message send/receive spans are not made.
    assert {s.kind for s in exporter.get_finished_spans() if s.name.startswith(("GET", "DEL"))} == {
        SpanKind.SERVER
    }

    secrets = [victim_id, CITIZEN_ID, QUERY_SECRET, "python-httpx"]
    secrets += [k.split("_", 2)[2] for k in issued.values()]  # the keys' secret parts
    for span in servers:
        shown = json.dumps({"name": span.name, "attrs": dict(span.attributes or {})}, default=str)
        assert not [s for s in secrets if s in shown], shown
        # The server's own address may show; the client's (same host here) may not.
        assert not {"client.address", "url.path", "url.query"} & set(span.attributes or {})

    data = metric_reader.get_metrics_data()
    assert data is not None
    points = [
        (metric.name, dict(point.attributes or {}))
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for metric in sm.metrics
        for point in metric.data.data_points
    ]
    durations = [attrs for name, attrs in points if name == "http.server.request.duration"]
    assert {"http.route": "/v1/admin/keys/{key_id}"}.items() <= next(
        a for a in durations if a.get("http.route") == "/v1/admin/keys/{key_id}"
    ).items()
    assert not [p for p in points if any(s in json.dumps(p, default=str) for s in secrets)]

    # Each access-log line carries the trace and span ids of its request's server span.
    delete = by_name["DELETE /v1/admin/keys/{key_id}"].get_span_context()
    assert any(
        line["trace_id"] == f"{delete.trace_id:032x}"
        and line["span_id"] == f"{delete.span_id:016x}"
        for line in access.lines
    ), access.lines
    assert all(line["trace_id"] for line in access.lines if "healthz" not in line["msg"])

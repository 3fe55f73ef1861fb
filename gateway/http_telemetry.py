"""The gateway's HTTP spans and metrics, from OpenTelemetry's FastAPI instrumentation.

Spans are named by route template (``GET /v1/admin/keys/{key_id}``) and carry
``http.route``; metrics (``http.server.request.duration``, active requests, sizes) are
labelled by route template, method and status. What a URL or a client may carry -- raw paths
with ids, query strings, addresses, user agents, headers -- never reaches an exporter: the
stable HTTP conventions are selected (their metrics have no path attribute at all) and the
span attributes that hold such values are dropped by ``telemetry``'s redaction, which every
installed span processor sits behind.

Health probes are not traced (they would drown the rest), and the per-message ``http send``
/ ``http receive`` spans of the ASGI layer are not made: a streamed response would make one
a message.
"""

from __future__ import annotations

import os

from fastapi import FastAPI

# The stable HTTP semantic conventions (url.path, http.request.method, ...) rather than the
# old ones: read once, when the instrumentation is first set up, so set before importing it.
os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", "http")

from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

UNTRACED = "healthz,readyz"


def instrument(app: FastAPI) -> None:
    """Trace and measure every request of ``app`` (with the process's providers, looked up
    when a request comes: a provider installed after the app is built is used)."""
    FastAPIInstrumentor.instrument_app(
        app, excluded_urls=UNTRACED, exclude_spans=["receive", "send"]
    )

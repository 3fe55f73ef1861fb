"""What a URL or a client carries never reaches an exporter (the gateway's HTTP spans are
checked end to end in tests/integration/test_gateway_telemetry.py)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from govbus.telemetry import REDACTED_ATTRIBUTES, TRACER, Redacting, redacted

SAFE = {"http.route": "/v1/admin/keys/{key_id}", "http.request.method": "DELETE"}


@given(
    st.dictionaries(st.sampled_from(sorted(REDACTED_ATTRIBUTES)), st.text(), min_size=1),
    st.dictionaries(
        st.sampled_from(["http.request.header.x_api_key", "http.response.header.a"]), st.text()
    ),
)
def test_redacted_drops_every_listed_attribute_and_keeps_the_rest(
    listed: dict[str, str], headers: dict[str, str]
) -> None:
    assert redacted({**SAFE, **listed, **headers}) == SAFE


def test_nothing_to_drop_is_said_so() -> None:
    assert redacted(SAFE) is None


def spans_through_redacting(scope: str) -> list[ReadableSpan]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(Redacting(SimpleSpanProcessor(exporter)))
    tracer = provider.get_tracer(scope)
    with tracer.start_as_current_span("DELETE /v1/admin/keys/{key_id}") as span:
        span.set_attributes({**SAFE, "url.path": "/v1/admin/keys/b9f7a27a8afe"})
    return list(exporter.get_finished_spans())


def test_an_instrumentation_span_reaches_the_exporter_without_them() -> None:
    (span,) = spans_through_redacting("opentelemetry.instrumentation.asgi")
    assert dict(span.attributes or {}) == SAFE
    assert span.name == "DELETE /v1/admin/keys/{key_id}"
    assert span.instrumentation_scope is not None
    assert span.instrumentation_scope.name == "opentelemetry.instrumentation.asgi"


def test_govbus_spans_pass_untouched() -> None:
    (span,) = spans_through_redacting(TRACER)
    assert "url.path" in (span.attributes or {})

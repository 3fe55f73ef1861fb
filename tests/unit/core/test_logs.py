"""Every structured log line carries the trace and span ids of where it was written."""

from __future__ import annotations

import json
import logging

from opentelemetry.sdk.trace import TracerProvider

from govbus.logs import JsonFormatter, traced

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def line(**extra: object) -> dict[str, object]:
    record = logging.LogRecord("govbus.test", logging.INFO, __file__, 1, "hello", None, None)
    record.__dict__.update(extra)
    out: dict[str, object] = json.loads(JsonFormatter().format(record))
    return out


def test_a_line_written_in_a_span_carries_its_trace_and_span_ids() -> None:
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("request") as span:
        got = line()
    ctx = span.get_span_context()
    assert got["trace_id"] == f"{ctx.trace_id:032x}"
    assert got["span_id"] == f"{ctx.span_id:016x}"


def test_a_line_outside_any_span_has_the_keys_empty() -> None:
    got = line()
    assert got["trace_id"] == ""
    assert got["span_id"] == ""


def test_a_line_about_one_message_takes_the_ids_of_its_traceparent() -> None:
    got = line(**traced(TRACEPARENT))
    assert got["trace_id"] == "0af7651916cd43dd8448eb211c80319c"
    assert got["span_id"] == "b7ad6b7169203331"


def test_a_missing_or_malformed_traceparent_adds_nothing() -> None:
    for bad in (None, "", "00-xyz", b"00-0af7-b7ad-01", "00-" + "0" * 32 + "-" + "0" * 16 + "-01"):
        assert traced(bad) == {}

"""Structured (JSON lines) logs; ``extra={...}`` fields become keys. Secrets never go in.

Every line carries ``trace_id`` and ``span_id``: those of the span current where it was
logged (a gateway request's server span, a publish span), so a line leads to its trace;
empty when nothing was traced there. A caller that knows better (a line about one message
handled outside any span) passes them in ``extra``.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import SpanContext

from govbus.telemetry import parse_traceparent

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            **trace_ids(),
        }
        out.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, ensure_ascii=False)


def trace_ids(ctx: SpanContext | None = None) -> dict[str, str]:
    """The trace and span ids (hex, as trace UIs show them) of ``ctx``, by default the
    current span's; empty strings if there is none."""
    ctx = ctx or trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return {"trace_id": "", "span_id": ""}
    return {"trace_id": f"{ctx.trace_id:032x}", "span_id": f"{ctx.span_id:016x}"}


def traced(traceparent: str | bytes | None) -> dict[str, str]:
    """``extra`` for a line about one message handled outside its span: the ids of its W3C
    traceparent (the span that sent it); nothing if it has none."""
    ctx = parse_traceparent(traceparent)
    return trace_ids(ctx) if ctx else {}


def setup_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def warn_unknown_settings() -> None:
    """A misspelt GOVBUS_* variable is otherwise silently ignored: say so at start."""
    import os  # noqa: PLC0415

    from govbus.settings_reference import unknown_in_environment  # noqa: PLC0415

    for name in unknown_in_environment(os.environ):
        logging.getLogger("govbus.config").warning(
            "unknown setting ignored (misspelt?)", extra={"variable": name}
        )

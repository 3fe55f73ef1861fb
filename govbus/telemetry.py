"""OpenTelemetry in one place: setup from the standard OTEL_* variables, trace context in
Kafka headers, messaging span attributes, and the bus's metrics.

Export is off by default, but an SDK tracer provider is always installed: every event gets
a real trace id that flows through every hop and into the audit trail, so `govbus trace`
can name it and a deployment that turns export on sees whole traces.

- OTEL_TRACES_EXPORTER = otlp | console | none (default none)
- OTEL_METRICS_EXPORTER = otlp | prometheus | console | none (default none); prometheus
  serves /metrics on OTEL_EXPORTER_PROMETHEUS_PORT (default 9464)
- OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME, OTEL_SDK_DISABLED as usual
- GOVBUS_OTEL_FILE = path: also write finished spans as JSON lines there (debugging, tests)
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import metrics, trace
from opentelemetry.propagate import extract as _extract
from opentelemetry.propagate import inject as _inject
from opentelemetry.propagators.textmap import Getter, Setter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, TraceFlags

TRACER = "govbus"
TRACE_HEADERS = ("traceparent", "tracestate")
Headers = list[tuple[str, bytes]]
_setup_lock = threading.Lock()
_is_setup = False


class KafkaHeaderGetter(Getter[Any]):
    """Reads headers as Kafka clients hand them over: a list of (str, bytes|str) tuples, or a
    mapping (Faust uses both)."""

    def get(self, carrier: Any, key: str) -> list[str] | None:
        items = carrier.items() if isinstance(carrier, Mapping) else (carrier or [])
        values = [
            v.decode(errors="replace") if isinstance(v, bytes) else str(v)
            for k, v in items
            if k == key and v is not None
        ]
        return values or None

    def keys(self, carrier: Any) -> list[str]:
        items = carrier.items() if isinstance(carrier, Mapping) else (carrier or [])
        return [k for k, _ in items]


class KafkaHeaderSetter(Setter[Headers]):
    def set(self, carrier: Headers, key: str, value: str) -> None:
        carrier[:] = [(k, v) for k, v in carrier if k != key]
        carrier.append((key, value.encode()))


GETTER = KafkaHeaderGetter()
SETTER = KafkaHeaderSetter()


def inject(headers: Headers) -> Headers:
    """Write the current trace context into ``headers`` (replacing any) and return them."""
    _inject(headers, setter=SETTER)
    return headers


def extract(headers: Any) -> otel_context.Context:
    return _extract(headers, getter=GETTER)


def trace_id_of(traceparent: str | bytes | None) -> str:
    """The trace id of a W3C traceparent (00-<trace id>-<span id>-<flags>), or ''."""
    if not traceparent:
        return ""
    text = traceparent.decode(errors="replace") if isinstance(traceparent, bytes) else traceparent
    parts = text.split("-")
    return parts[1] if len(parts) == 4 and len(parts[1]) == 32 else ""


def tracer() -> trace.Tracer:
    return trace.get_tracer(TRACER)


# The span processors installed (exporters): SpanBatch hands its finished spans to them.
_processors: list[SpanProcessor] = []


def add_span_processor(provider: TracerProvider, processor: SpanProcessor) -> None:
    """Install ``processor`` for spans made through ``provider`` and for :class:`SpanBatch`,
    behind :class:`Redacting`."""
    redacting = Redacting(processor)
    provider.add_span_processor(redacting)
    _processors.append(redacting)


# Span attributes that would carry what a URL or a client holds: a raw path with ids (a
# citizen's ID, a key id), a query string, the full URL, a client's address, its user agent,
# captured headers (an API key). Instrumentations set them; exporters never see them. The
# route template (http.route) and the span name say which route it was.
REDACTED_ATTRIBUTES = frozenset(
    {
        "url.full",
        "url.path",
        "url.query",
        "http.url",
        "http.target",
        "client.address",
        "client.port",
        "network.peer.address",
        "network.peer.port",
        "net.peer.ip",
        "net.peer.port",
        "net.sock.peer.addr",
        "net.sock.peer.port",
        "http.client_ip",
        "user_agent.original",
        "http.user_agent",
    }
)
REDACTED_PREFIXES = ("http.request.header.", "http.response.header.")


def redacted(attributes: Mapping[str, Any]) -> dict[str, Any] | None:
    """``attributes`` without the redacted ones; None if there are none to drop."""
    drop = [k for k in attributes if k in REDACTED_ATTRIBUTES or k.startswith(REDACTED_PREFIXES)]
    if not drop:
        return None
    return {k: v for k, v in attributes.items() if k not in drop}


class Redacting(SpanProcessor):
    """Hands finished spans on to ``inner`` without the :data:`REDACTED_ATTRIBUTES` (on the
    span and its events). Only spans of other libraries' instrumentations are looked at:
    govbus's own spans never set them, and the worker's many spans pass untouched."""

    def __init__(self, inner: SpanProcessor) -> None:
        self.inner = inner

    def on_start(self, span: Any, parent_context: otel_context.Context | None = None) -> None:
        self.inner.on_start(span, parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        scope = span.instrumentation_scope
        if scope is not None and scope.name != TRACER:
            clean = redacted(span.attributes or {})
            if clean is not None:
                span = ReadableSpan(
                    name=span.name,
                    context=span.get_span_context(),
                    parent=span.parent,
                    resource=span.resource,
                    attributes=clean,
                    events=span.events,
                    links=span.links,
                    kind=span.kind,
                    status=span.status,
                    start_time=span.start_time,
                    end_time=span.end_time,
                    instrumentation_scope=scope,
                )
        self.inner.on_end(span)

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)


def parse_traceparent(value: str | bytes | None) -> SpanContext | None:
    """A W3C traceparent as a remote span context; None if absent or malformed."""
    if not value:
        return None
    text = value.decode(errors="replace") if isinstance(value, bytes) else value
    parts = text.split("-")
    if len(parts) != 4 or len(parts[1]) != 32 or len(parts[2]) != 16 or len(parts[3]) != 2:
        return None
    try:
        ctx = SpanContext(
            int(parts[1], 16),
            int(parts[2], 16),
            is_remote=True,
            trace_flags=TraceFlags(int(parts[3], 16) & 0x01),
        )
    except ValueError:
        return None
    return ctx if ctx.is_valid else None


def parent_of(headers: Headers) -> SpanContext | None:
    """The span context in a message's traceparent header (cheaper than ``extract``)."""
    return parse_traceparent(next((v for k, v in headers if k == "traceparent"), None))


def format_traceparent(ctx: SpanContext) -> bytes:
    return b"00-%032x-%016x-%02x" % (ctx.trace_id, ctx.span_id, int(ctx.trace_flags))


class SpanBatch:
    """The spans a worker makes for one batch -- a ``process`` span per input in its
    publisher's trace, a ``send`` span per delivery starting a trace of its own -- recorded
    as finished spans and handed to the exporters at once.

    Why not the SDK's tracer: its per-span machinery (sampler, locks, span processors on
    start and end, context attach) costs about 25 µs a span, four spans an event with three
    recipients: more CPU than projecting, masking and encoding the deliveries (measured,
    docs/benchmarks.md). What is exported is the same: names, kinds, parents, links,
    attributes and times. Spans of an unsampled trace are not recorded, and nothing is
    recorded when no exporter is installed; the trace ids still flow into headers and audit.
    """

    def __init__(self) -> None:
        self._spans: list[ReadableSpan] = []
        self._entropy = b""
        self._used = 0
        self._recording = bool(_processors)
        provider = trace.get_tracer_provider()
        self._resource = getattr(provider, "resource", None)

    def child(self, parent: SpanContext | None) -> SpanContext:
        """A new span's context in ``parent``'s trace (a new sampled trace without one)."""
        if parent is None:
            return self.new_trace(sampled=True)
        return SpanContext(parent.trace_id, self._random_id(8), False, parent.trace_flags)

    def new_trace(self, *, sampled: bool) -> SpanContext:
        return SpanContext(
            self._random_id(16),
            self._random_id(8),
            False,
            TraceFlags(TraceFlags.SAMPLED if sampled else TraceFlags.DEFAULT),
        )

    def _random_id(self, size: int) -> int:
        # From the OS, not a seeded generator: a department that saw enough of the ids handed
        # out could otherwise predict the trace ids other recipients got, and join on them.
        # Drawn a few kilobytes at a time, not one system call per id.
        if self._used + size > len(self._entropy):
            self._entropy, self._used = os.urandom(4096), 0
        start, self._used = self._used, self._used + size
        return int.from_bytes(self._entropy[start : self._used]) or 1

    def record(
        self,
        name: str,
        context: SpanContext,
        *,
        kind: trace.SpanKind,
        start_ns: int,
        attributes: Mapping[str, Any],
        parent: SpanContext | None = None,
        links: Sequence[trace.Link] = (),
    ) -> None:
        if not (self._recording and context.trace_flags.sampled):
            return
        self._spans.append(
            ReadableSpan(
                name=name,
                context=context,
                parent=parent,
                resource=self._resource,
                attributes=attributes,
                links=links,
                kind=kind,
                start_time=start_ns,
                end_time=time.time_ns(),
                instrumentation_scope=_SCOPE,
            )
        )

    def flush(self) -> None:
        spans, self._spans = self._spans, []
        for span in spans:
            for processor in _processors:
                processor.on_end(span)


_SCOPE = InstrumentationScope(TRACER)


def messaging_attributes(
    operation: str,
    topic: str,
    *,
    message_id: str | None = None,
    partition: int | None = None,
    offset: int | None = None,
    group: str | None = None,
) -> dict[str, Any]:
    """OpenTelemetry messaging semantic conventions (Kafka)."""
    attrs: dict[str, Any] = {
        "messaging.system": "kafka",
        "messaging.operation.type": operation,
        "messaging.operation.name": operation,
        "messaging.destination.name": topic,
    }
    if message_id is not None:
        attrs["messaging.message.id"] = message_id
    if partition is not None:
        attrs["messaging.destination.partition.id"] = str(partition)
    if offset is not None:
        attrs["messaging.kafka.offset"] = offset
    if group is not None:
        attrs["messaging.consumer.group.name"] = group
    return attrs


class JsonLinesSpanExporter(SpanExporter):
    """Finished spans as JSON lines in a file: trace id, span id, parent, links, name,
    attributes."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = []
        for span in spans:
            ctx = span.get_span_context()
            parent = span.parent
            lines.append(
                json.dumps(
                    {
                        "name": span.name,
                        "trace_id": f"{ctx.trace_id:032x}" if ctx else "",
                        "span_id": f"{ctx.span_id:016x}" if ctx else "",
                        "parent_id": f"{parent.span_id:016x}" if parent else "",
                        "links": [
                            {
                                "trace_id": f"{link.context.trace_id:032x}",
                                "span_id": f"{link.context.span_id:016x}",
                            }
                            for link in span.links
                        ],
                        "kind": str(span.kind),
                        "attributes": dict(span.attributes or {}),
                    },
                    default=str,
                )
            )
        with self._lock, open(self.path, "a", encoding="utf-8") as handle:
            handle.write("".join(line + "\n" for line in lines))
        return SpanExportResult.SUCCESS


def setup(service_name: str) -> None:
    """Install tracer and meter providers per the OTEL_* environment (idempotent)."""
    global _is_setup  # noqa: PLW0603 - providers are process-wide by OTel's design
    with _setup_lock:
        if _is_setup or os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
            return
        _is_setup = True
        resource = Resource.create(
            {"service.name": os.environ.get("OTEL_SERVICE_NAME", service_name)}
        )
        provider = TracerProvider(resource=resource)
        for processor in _span_processors():
            add_span_processor(provider, processor)
        trace.set_tracer_provider(provider)
        readers = list(_metric_readers())
        if readers:
            from opentelemetry.sdk.metrics import MeterProvider  # noqa: PLC0415

            metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=readers))


def _span_processors() -> Iterable[Any]:
    kind = os.environ.get("OTEL_TRACES_EXPORTER", "none").lower()
    if kind == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415
            OTLPSpanExporter,
        )

        yield BatchSpanProcessor(OTLPSpanExporter())
    elif kind == "console":
        yield SimpleSpanProcessor(ConsoleSpanExporter())
    path = os.environ.get("GOVBUS_OTEL_FILE")
    if path:
        yield SimpleSpanProcessor(JsonLinesSpanExporter(path))


def _metric_readers() -> Iterable[Any]:
    kind = os.environ.get("OTEL_METRICS_EXPORTER", "none").lower()
    if kind == "otlp":
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import (  # noqa: PLC0415
            OTLPMetricExporter,
        )
        from opentelemetry.sdk.metrics.export import (  # noqa: PLC0415
            PeriodicExportingMetricReader,
        )

        yield PeriodicExportingMetricReader(OTLPMetricExporter())
    elif kind == "prometheus":
        from opentelemetry.exporter.prometheus import PrometheusMetricReader  # noqa: PLC0415
        from prometheus_client import start_http_server  # noqa: PLC0415

        port = int(os.environ.get("OTEL_EXPORTER_PROMETHEUS_PORT", "9464"))
        start_http_server(port, addr=os.environ.get("OTEL_EXPORTER_PROMETHEUS_HOST", "127.0.0.1"))
        yield PrometheusMetricReader()
    elif kind == "console":
        from opentelemetry.sdk.metrics.export import (  # noqa: PLC0415
            ConsoleMetricExporter,
            PeriodicExportingMetricReader,
        )

        yield PeriodicExportingMetricReader(ConsoleMetricExporter())


class BusMetrics:
    """The bus's instruments; no-ops until a meter provider is installed."""

    def __init__(self, meter: metrics.Meter | None = None) -> None:
        meter = meter or metrics.get_meter(TRACER)
        self.events_in = meter.create_counter(
            "govbus.events.in", description="Events accepted, by type"
        )
        self.delivered = meter.create_counter(
            "govbus.events.delivered", description="Deliveries, by type and subscriber"
        )
        self.duplicates = meter.create_counter(
            "govbus.events.duplicates", description="Duplicates counted, by type and key kind"
        )
        self.dead_letters = meter.create_counter(
            "govbus.events.dead_letters", description="Dead letters, by reason"
        )
        self.batch_duration = meter.create_histogram(
            "govbus.batch.duration", unit="s", description="Time to process and commit a batch"
        )
        self.event_latency = meter.create_histogram(
            "govbus.event.latency",
            unit="s",
            description="From the event's time (ce_time) to its deliveries being committed",
        )
        self.lag = meter.create_gauge(
            "govbus.consumer.lag", description="Input messages not yet processed, per partition"
        )


class AuditMetrics:
    """The audit trail's health, from whatever follows the audit topic (the indexer)."""

    def __init__(self, meter: metrics.Meter | None = None) -> None:
        meter = meter or metrics.get_meter(TRACER)
        self.chain_breaks = meter.create_counter(
            "govbus.audit.chain_breaks",
            description="Audit records that do not link to their chain (gap, reordering, "
            "broken link) or whose hash does not match their content",
        )
        # Present at 0 from the start: an alert on its increase sees the first break.
        self.chain_breaks.add(0)


class ApprovalMetrics:
    """Unanswered parts of conditional requests, by provider and state (overdue, due_soon,
    waiting), observed when metrics are collected: ``observe`` yields (count, attributes)."""

    def __init__(
        self,
        observe: Callable[[], Iterable[tuple[int, dict[str, str]]]],
        meter: metrics.Meter | None = None,
    ) -> None:
        meter = meter or metrics.get_meter(TRACER)

        def callback(_options: metrics.CallbackOptions) -> Iterable[metrics.Observation]:
            return [metrics.Observation(n, attributes) for n, attributes in observe()]

        self.awaiting = meter.create_observable_gauge(
            "govbus.approvals.awaiting",
            callbacks=[callback],
            description="Parts of conditional requests awaiting a provider's answer, by "
            "provider and state: overdue (past the working-day deadline), due_soon, waiting",
        )

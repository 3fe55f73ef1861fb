"""Publisher SDK: typed events to Kafka, idempotent, acks=all, CloudEvents headers,
delivery results surfaced as futures (never swallowed). It needs no bus secret: the bus
computes each event's subject pseudonym itself (``ce_subject`` is left out), and the Kafka
key is a partition bucket that names no one (see ``partition_key``).

    with Publisher("health") as pub:
        result = pub.publish("gov.health.birth_registered", data).result(timeout=10)

A bulk load goes to the bulk lane (``Publisher("health", lane="bulk")``, what ``govbus load``
does): the same events, read by the workers apart from real-time traffic so a large load
never delays anyone else's events.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import uuid
from collections.abc import Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, cast

from confluent_kafka import KafkaError, KafkaException, Producer
from opentelemetry.trace import SpanKind

from govbus import telemetry
from govbus.config import ConnectionSettings, load
from govbus.errors import GovbusError
from govbus.schemas.catalogue import Catalogue, EventType, default_catalogue
from govbus.schemas.codec import AvroCodec, CodecError
from govbus.schemas.envelope import Envelope, HeaderList, KafkaHeaders, schema_ref
from govbus.schemas.errors import ReasonedError
from govbus.schemas.models import EventModel
from govbus.schemas.registry import SchemaRegistryClient
from govbus.schemas.topics import REALTIME, Lane, check_lane, check_party_id
from govbus.schemas.validation import check_fields

PARTITION_BUCKETS = 1 << 16


def partition_key(kind: str, value: str) -> bytes:
    """The Kafka key of an input event: the bucket (one of 65,536) its subject falls into.

    Stable per subject, so one person's events share a partition and keep their order (a
    correction comes after its original). It needs no secret, and it names no one: an
    unsalted hash of an ID could be reversed by trying every valid ID (about 10^11), but a
    bucket is shared by about two million valid IDs and over 20,000 actual residents, so
    brute force ends in a crowd. The worker uses it for nothing and passes it on nowhere.
    """
    digest = hashlib.sha256(f"govbus-partition:{kind}:{value}".encode()).digest()
    bucket = int.from_bytes(digest[:4], "big") % PARTITION_BUCKETS
    return f"b{bucket:04x}".encode()


class PublishError(ReasonedError, GovbusError):
    """The event was refused before sending, or the broker did not acknowledge it."""


@dataclass(frozen=True)
class PublishResult:
    event_id: str
    topic: str
    partition: int
    offset: int


@dataclass(frozen=True)
class Prepared:
    """An event ready to send: topic, key, value and headers."""

    envelope: Envelope
    topic: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


class EventEncoder:
    """Turns (type, data) into a Prepared message. Pure apart from caches; no Kafka."""

    def __init__(
        self,
        source: str,
        catalogue: Catalogue,
        registry: SchemaRegistryClient | None = None,
        lane: Lane = REALTIME,
    ) -> None:
        self.source = check_party_id(source)
        self.lane = check_lane(lane)
        self.catalogue = catalogue
        self.registry = registry
        self.codec = AvroCodec(registry)

    def event_type(self, type_name: str, version: int | None) -> EventType:
        event = self.catalogue.get(type_name, version)
        if event is None:
            raise PublishError("catalogue.unknown_type", f"unknown event type {type_name}")
        if event.owner != self.source:
            raise PublishError(
                "policy.not_owner", f"{self.source} does not own {type_name} (owner: {event.owner})"
            )
        return event

    def prepare(
        self,
        type_name: str,
        data: Mapping[str, Any],
        *,
        version: int | None = None,
        event_id: str | None = None,
        time: dt.datetime | None = None,
        correlation_id: str | None = None,
        causation_id: str | None = None,
        corrects: str | None = None,
        retract: bool = False,
        extra_headers: Iterable[tuple[str, bytes]] = (),
    ) -> Prepared:
        event = self.event_type(type_name, version)
        if retract and not corrects:
            raise PublishError("sdk.usage", "a retraction names the event it retracts (corrects=)")
        record = dict(data)
        problem = check_fields(event.fields.values(), record)
        if problem is not None:
            raise PublishError(*problem)
        fp = self.codec.register(event.schema)
        try:
            if self.registry is None:
                value = self.codec.encode(fp, record)
            else:
                schema_id = self.registry.register(f"{event.topic}-value", event.schema)
                value = self.codec.encode_confluent(schema_id, fp, record)
        except CodecError as exc:
            raise PublishError(exc.reason, str(exc)) from None
        envelope = Envelope(
            id=event_id or str(uuid.uuid4()),
            source=self.source,
            type=event.type,
            version=event.version,
            subject="",  # the bus computes it from the record
            time=time or dt.datetime.now(dt.UTC),
            dataschema=schema_ref(fp),
            correlation_id=correlation_id,
            causation_id=causation_id,
            corrects=corrects,
            retract=retract,
        )
        headers = [*envelope.to_headers(), *extra_headers]
        key = partition_key(event.subject_kind, str(record[event.subject_field]))
        return Prepared(envelope, event.lane_topic(self.lane), key, value, headers)


class Publisher:
    """Thread-safe; a background thread serves delivery callbacks."""

    def __init__(
        self,
        source: str,
        *,
        catalogue: Catalogue | None = None,
        conn: ConnectionSettings | None = None,
        producer_config: Mapping[str, Any] | None = None,
        lane: Lane = REALTIME,
    ) -> None:
        conn = conn or load(ConnectionSettings)
        registry = (
            SchemaRegistryClient(conn.schema_registry_url) if conn.schema_registry_url else None
        )
        self.encoder = EventEncoder(source, catalogue or default_catalogue(), registry, lane)
        self._producer = Producer(
            {
                # The publishing department's own credentials (GOVBUS_KAFKA_SASL_*), which
                # `govbus acl sync` lets write its own event topics and nothing else.
                "bootstrap.servers": conn.bootstrap,
                **conn.kafka_security(),
                "enable.idempotence": True,
                "acks": "all",
                # Events are facts someone waits for: 1 ms, not more. Under load librdkafka
                # batches anyway, because a request is in flight while the next ones queue.
                "linger.ms": 1,
                "compression.type": "lz4",
                "delivery.timeout.ms": 120000,
                **(producer_config or {}),
            }
        )
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll, name="govbus-publisher", daemon=True)
        self._poller.start()

    def _poll(self) -> None:
        while not self._stop.is_set():
            self._producer.poll(0.1)

    def publish(
        self, event: str | EventModel, data: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> Future[PublishResult]:
        """Validate, encode and send a typed event (``publish(BirthRegisteredV2(...))``) or a
        type name with its data. The future resolves when the broker acknowledged (acks=all)
        or fails with PublishError; an invalid event raises PublishError at once."""
        if isinstance(event, EventModel):
            kwargs.setdefault("version", event.event_version)
            return self.send(self.encoder.prepare(event.event_type, event.model_dump(), **kwargs))
        if data is None:
            raise PublishError("sdk.usage", "publish(type_name, data) needs the event data")
        return self.send(self.encoder.prepare(event, data, **kwargs))

    def send(self, prepared: Prepared) -> Future[PublishResult]:
        """Produce with a 'send' span whose context travels in the headers. The span's parent
        is a traceparent already in the headers (the outbox's business transaction) or else
        the caller's current span."""
        headers = list(prepared.headers)
        parent = telemetry.extract(headers) if any(k == "traceparent" for k, _ in headers) else None
        attributes = telemetry.messaging_attributes(
            "send", prepared.topic, message_id=prepared.envelope.id
        )
        attributes["cloudevents.event_type"] = prepared.envelope.ce_type
        with telemetry.tracer().start_as_current_span(
            f"send {prepared.topic}",
            context=parent,
            kind=SpanKind.PRODUCER,
            attributes=attributes,
        ):
            telemetry.inject(headers)
            return self._produce(prepared, headers)

    def _produce(self, prepared: Prepared, headers: HeaderList) -> Future[PublishResult]:
        future: Future[PublishResult] = Future()
        event_id = prepared.envelope.id

        def on_delivery(err: KafkaError | None, msg: Any) -> None:
            if err is not None:
                future.set_exception(PublishError(_reason(err), f"not delivered: {err.str()}"))
            else:
                future.set_result(
                    PublishResult(event_id, msg.topic(), msg.partition(), msg.offset())
                )

        while True:
            try:
                self._producer.produce(
                    prepared.topic,
                    prepared.value,
                    prepared.key,
                    headers=cast(KafkaHeaders, headers),
                    on_delivery=on_delivery,
                )
                return future
            except BufferError:
                self._producer.flush(1.0)
            except KafkaException as exc:  # refused by the client itself, e.g. too large
                raise PublishError(_reason(exc.args[0]), f"not sent: {exc.args[0].str()}") from None

    def publish_many(
        self, type_name: str, rows: Iterable[Mapping[str, Any]], **kwargs: Any
    ) -> list[Future[PublishResult]]:
        return [self.publish(type_name, row, **kwargs) for row in rows]

    def flush(self, timeout_s: float = 30.0) -> int:
        """Wait for outstanding deliveries; returns how many are still in flight."""
        return int(self._producer.flush(timeout_s))

    def close(self, timeout_s: float = 30.0) -> None:
        remaining = self.flush(timeout_s)
        self._stop.set()
        self._poller.join(timeout=2)
        if remaining:
            raise PublishError("kafka.flush", f"{remaining} events not acknowledged at close")

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _reason(err: KafkaError) -> str:
    if err.code() == KafkaError.MSG_SIZE_TOO_LARGE:
        return "kafka.too_large"
    return "kafka.delivery"

"""Read a subscriber's delivery topic and decode what it received with the projected schema
from govbus.schemas. The only topic name it can touch is derived from the subscriber id."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Consumer, KafkaError
from opentelemetry.trace import SpanKind

from govbus import telemetry
from govbus.kafka_config import client_config
from govbus.schema_store import read_all_schemas
from govbus.schemas.catalogue import Schema
from govbus.schemas.codec import AvroCodec
from govbus.schemas.envelope import Envelope, header_dict
from govbus.schemas.topics import consumer_group, delivery_topic


@dataclass(frozen=True)
class Received:
    envelope: Envelope
    record: dict[str, Any]
    subscription: str
    partition: int
    offset: int
    schema: Schema
    traceparent: str | None
    raw: bytes = b""  # the Avro single-object bytes as delivered
    # One delivery is served to many readers: the gateway renders it once (routes_events).
    rendered: dict[str, str] = field(default_factory=dict, compare=False, repr=False)


class DeliveryDecoder:
    """Decodes deliveries with the projected schemas kept in govbus.schemas."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.codec = AvroCodec()

    def refresh_schemas(self) -> None:
        for schema in read_all_schemas(self.bootstrap).values():
            self.codec.register(schema)

    def decode(self, msg: Any) -> Received:
        value: bytes = msg.value()
        fp = self.codec.fingerprint_of(value)
        if self.codec.schema(fp) is None:
            self.refresh_schemas()
        _, record = self.codec.decode(value)
        headers = header_dict(msg.headers())
        schema = self.codec.schema(fp) or {}
        return Received(
            Envelope.from_headers(msg.headers()),
            record,
            headers.get("govbus_subscription", ""),
            msg.partition(),
            msg.offset(),
            schema,
            headers.get("traceparent"),
            value,
        )


class DeliveryReader:
    def __init__(
        self,
        bootstrap: str,
        subscriber: str,
        *,
        group: str = "reader",
        consumer_config: dict[str, Any] | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        self.subscriber = subscriber
        self.topic = delivery_topic(subscriber)
        self.group = consumer_group(subscriber, group)
        self.decoder = DeliveryDecoder(bootstrap)
        self._consumer = Consumer(
            {
                **client_config(bootstrap),
                "group.id": self.group,
                "isolation.level": "read_committed",
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                **(consumer_config or {}),
            }
        )
        self._consumer.subscribe([self.topic])

    def poll(self, max_messages: int = 100, timeout_s: float = 1.0) -> list[Received]:
        out = []
        for msg in self._consumer.consume(max_messages, timeout_s):
            err = msg.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    continue
                raise RuntimeError(f"cannot read {self.topic}: {err.str()}")
            out.append(self.decode(msg))
        return out

    def decode(self, msg: Any) -> Received:
        """Decode one delivery, as a 'receive' span in the event's trace."""
        attributes = telemetry.messaging_attributes(
            "receive",
            self.topic,
            partition=msg.partition(),
            offset=msg.offset(),
            group=self.group,
            message_id=header_dict(msg.headers()).get("ce_id"),
        )
        with telemetry.tracer().start_as_current_span(
            f"receive {self.topic}",
            context=telemetry.extract(msg.headers()),
            kind=SpanKind.CONSUMER,
            attributes=attributes,
        ):
            return self.decoder.decode(msg)

    def wait_for(self, delivery_ids: set[str], timeout_s: float) -> dict[str, Received]:
        """Read until every given delivery id was seen (or the timeout); returns those seen."""
        found: dict[str, Received] = {}
        deadline = time.monotonic() + timeout_s
        while len(found) < len(delivery_ids) and time.monotonic() < deadline:
            for item in self.poll(500, 0.5):
                if item.envelope.id in delivery_ids:
                    found[item.envelope.id] = item
        return found

    def commit(self) -> None:
        self._consumer.commit(asynchronous=False)

    def close(self) -> None:
        self._consumer.close()


def read_deliveries(
    bootstrap: str, subscriber: str, delivery_ids: set[str], timeout_s: float = 60.0
) -> dict[str, Received]:
    """Read a subscriber's topic with a fresh consumer group until the given deliveries
    were seen (or the timeout); returns those found."""
    reader = DeliveryReader(bootstrap, subscriber, group=f"probe-{uuid.uuid4().hex[:8]}")
    try:
        return reader.wait_for(delivery_ids, timeout_s)
    finally:
        reader.close()

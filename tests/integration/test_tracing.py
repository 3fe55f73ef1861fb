"""Traces on the real broker: the publisher's trace runs to the worker's processing of the
event; each delivery starts a trace of its own, linked to that processing, which its
recipient's read continues. Recipients never share a trace id (they could join on it).

1. In-process (in-memory span exporter): SDK publish -> the pipeline's process -> a
   delivery trace per recipient (real Kafka transaction, real Redis) -> the gateway
   reader's receive.
2. The real Faust worker in its own process, writing its spans to a file: its process span
   continues the publisher's trace (Faust's header handling included), its delivery span
   links to it, and the reader's receive span continues the delivery's trace.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import redis
from confluent_kafka import Consumer, TopicPartition
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from govbus.adapters.publisher import Publisher
from govbus.audit_log import read_audit
from govbus.config import ConnectionSettings, KeySettings
from govbus.kafka_admin import ensure_topics
from govbus.policy import parse_policy
from govbus.pseudonym import Pseudonymizer
from govbus.schemas.catalogue import default_catalogue
from govbus.schemas.codec import AvroCodec
from govbus.schemas.envelope import header_dict
from govbus.schemas.topics import delivery_topic
from govbus.streams.dedupe import RedisDedupe
from govbus.streams.deliver import Projector
from govbus.streams.messages import InMessage
from govbus.streams.pipeline import Pipeline
from govbus.streams.sink import TransactionalSink
from govbus.streams.validate import Validator
from govbus_devtools.demo.sample_data import birth
from govbus_devtools.devenv.process import free_port
from tests.integration.helpers import birth_subscription, read, start_worker
from tests.keys import delivery_id

BIRTH = "gov.health.birth_registered"
TOPIC = "govbus.events.health.birth_registered.v2"


def ce_id(headers: object) -> str | None:
    """The event id, or None for the corpus's hostile headers sharing the topic."""
    try:
        return header_dict(headers).get("ce_id")  # type: ignore[arg-type]
    except ValueError:
        return None


def fetch(bootstrap: str, topic: str, event_id: str) -> InMessage:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"t-{uuid.uuid4()}",
            "enable.auto.commit": False,
        }
    )
    try:
        meta = consumer.list_topics(topic, timeout=10).topics[topic]
        consumer.assign([TopicPartition(topic, p, 0) for p in meta.partitions])
        for _ in range(600):
            for msg in consumer.consume(500, 0.5):
                if msg.error() is None and ce_id(msg.headers()) == event_id:
                    return InMessage(
                        msg.topic(),
                        msg.partition(),
                        msg.offset(),
                        msg.key(),
                        msg.value(),
                        [(k, v or b"") for k, v in msg.headers()],
                    )
        raise AssertionError(f"{event_id} not found on {topic}")
    finally:
        consumer.close()


def one(spans: list[ReadableSpan], name: str) -> ReadableSpan:
    found = [s for s in spans if s.name == name]
    assert len(found) == 1, [
        (
            s.name[:12],
            (s.attributes or {}).get("messaging.kafka.offset"),
            (s.attributes or {}).get("messaging.consumer.group.name"),
            s.context.trace_id % 1000,
        )
        for s in spans
    ]
    return found[0]


def test_each_delivery_has_its_own_trace_linked_to_the_processing_of_the_event(
    runtime: ConnectionSettings, bootstrap: str, uid: str, exporter: InMemorySpanExporter
) -> None:
    subscriber, other = f"ps_{uid}", f"mi_{uid}"
    for who in (subscriber, other):
        ensure_topics(bootstrap, {delivery_topic(who): {}}, partitions=1, replication=1)
    second = {**birth_subscription(uid), "id": f"mi-{uid}", "subscriber": other}
    policy = parse_policy({"subscriptions": [birth_subscription(uid), second]})
    codec = AvroCodec()
    catalogue = default_catalogue()
    for event in catalogue:
        codec.register(event.schema)
    pipeline = Pipeline(
        app_id=f"trace-{uid}",
        validator=Validator(catalogue, codec, 1_000_000, subjects=Pseudonymizer(KeySettings())),
        projector=Projector(codec, Pseudonymizer(KeySettings())),
        codec=codec,
        policy=lambda: policy,
        sink=TransactionalSink(bootstrap, f"trace-{uid}"),
        dedupe=RedisDedupe(redis.Redis.from_url(runtime.redis), f"trace-{uid}", 600),
        load_progress=dict,
    )

    with Publisher("health") as pub:
        event_id = (
            pub.publish(BIRTH, birth(random.Random(uid), dt.date.today())).result(30).event_id
        )
    result = pipeline.process([fetch(bootstrap, TOPIC, event_id)])
    assert result.counts["accepted"] == 1
    wanted = delivery_id(subscriber, "health", event_id)
    assert wanted in read(bootstrap, subscriber, {wanted})

    finished = list(exporter.get_finished_spans())
    send = one(finished, f"send {TOPIC}")
    process = one(finished, f"process {TOPIC}")
    deliver = one(finished, f"send {delivery_topic(subscriber)}")
    deliver_other = one(finished, f"send {delivery_topic(other)}")
    receive = one(finished, f"receive {delivery_topic(subscriber)}")
    # The publisher's trace runs to the processing of the event ...
    assert process.context.trace_id == send.context.trace_id
    assert process.parent is not None
    assert process.parent.span_id == send.context.span_id
    # ... each delivery starts a trace of its own, linked to that processing ...
    traces = {s.context.trace_id for s in (send, deliver, deliver_other)}
    assert len(traces) == 3
    for span in (deliver, deliver_other):
        assert span.parent is None
        assert [(link.context.trace_id, link.context.span_id) for link in span.links] == [
            (process.context.trace_id, process.context.span_id)
        ]
    # ... which the recipient's read continues (and the worker audited).
    assert receive.context.trace_id == deliver.context.trace_id
    assert receive.parent is not None
    assert receive.parent.span_id == deliver.context.span_id
    delivered = {
        r.subscriber: r.trace_id
        for r in read_audit(bootstrap)
        if r.kind == "delivered" and r.event_id == event_id
    }
    assert delivered == {
        subscriber: f"{deliver.context.trace_id:032x}",
        other: f"{deliver_other.context.trace_id:032x}",
    }
    # Ops follow the event through every trace: `govbus trace` lists them from the audit.
    shown = subprocess.run(
        [str(Path(sys.executable).parent / "govbus"), "trace", event_id],
        env={**os.environ, "GOVBUS_KAFKA_BOOTSTRAP": bootstrap, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert f"trace {send.context.trace_id:032x} (publish and processing)" in shown
    for who, trace_id in delivered.items():
        assert f"trace {trace_id} (delivery to {who})" in shown
    assert (send.kind, process.kind, deliver.kind, receive.kind) == (
        SpanKind.PRODUCER,
        SpanKind.CONSUMER,
        SpanKind.PRODUCER,
        SpanKind.CONSUMER,
    )
    attrs: dict[str, Any] = dict(process.attributes or {})
    assert attrs["messaging.system"] == "kafka"
    assert attrs["messaging.operation.type"] == "process"
    assert attrs["messaging.destination.name"] == TOPIC
    assert attrs["messaging.message.id"] == event_id
    assert attrs["messaging.consumer.group.name"] == f"trace-{uid}"
    assert "messaging.kafka.offset" in attrs
    assert attrs["govbus.outcome"] == "accepted"
    assert dict(receive.attributes or {})["messaging.consumer.group.name"].startswith(subscriber)


def test_the_faust_worker_continues_the_publishers_trace_and_links_its_delivery(
    bootstrap: str,
    uid: str,
    state_dir: Path,
    worker_env: dict[str, str],
    tmp_path: Path,
    exporter: InMemorySpanExporter,
) -> None:
    subscriber = f"ps_{uid}"
    span_file = tmp_path / "worker-spans.jsonl"
    worker = start_worker(
        bootstrap,
        uid,
        state_dir,
        worker_env,
        tmp_path,
        [birth_subscription(uid)],
        {"GOVBUS_OTEL_FILE": str(span_file)},
    )
    try:
        with Publisher("health") as pub:
            event_id = (
                pub.publish(BIRTH, birth(random.Random(uid), dt.date.today())).result(30).event_id
            )
        wanted = delivery_id(subscriber, "health", event_id)
        assert wanted in read(bootstrap, subscriber, {wanted})
    finally:
        worker.stop()
    local = list(exporter.get_finished_spans())
    send = one(local, f"send {TOPIC}")
    # The new worker app may deliver older events too; ours is the one read by its id.
    receive = one(
        [s for s in local if (s.attributes or {}).get("messaging.message.id") == wanted],
        f"receive {delivery_topic(subscriber)}",
    )
    remote = [json.loads(line) for line in span_file.read_text().splitlines()]
    ours = [s for s in remote if s["trace_id"] == f"{send.context.trace_id:032x}"]
    process = next(s for s in ours if s["name"] == f"process {TOPIC}")
    assert process["parent_id"] == f"{send.context.span_id:016x}"
    link = {"trace_id": process["trace_id"], "span_id": process["span_id"]}
    deliver = next(
        s
        for s in remote
        if s["name"] == f"send {delivery_topic(subscriber)}" and link in s["links"]
    )
    assert deliver["parent_id"] == ""
    assert deliver["trace_id"] != process["trace_id"]
    assert f"{receive.context.trace_id:032x}" == deliver["trace_id"]
    assert receive.parent is not None
    assert f"{receive.parent.span_id:016x}" == deliver["span_id"]


def test_worker_metrics_endpoint_counts_what_happened(
    bootstrap: str, uid: str, state_dir: Path, worker_env: dict[str, str], tmp_path: Path
) -> None:
    import httpx  # noqa: PLC0415
    from confluent_kafka import Producer  # noqa: PLC0415

    from govbus.schemas.envelope import Envelope  # noqa: PLC0415
    from tests.integration.helpers import wait_until  # noqa: PLC0415

    port = free_port()
    subscriber = f"ps_{uid}"
    worker = start_worker(
        bootstrap,
        uid,
        state_dir,
        worker_env,
        tmp_path,
        [birth_subscription(uid)],
        {"OTEL_METRICS_EXPORTER": "prometheus", "OTEL_EXPORTER_PROMETHEUS_PORT": str(port)},
    )
    try:
        with Publisher("health") as pub:
            ids = [
                pub.publish(BIRTH, birth(random.Random(f"{uid}{i}"), dt.date.today()))
                .result(30)
                .event_id
                for i in range(3)
            ]
        env = Envelope(
            id=f"junk-{uid}",
            source="health",
            type=BIRTH,
            version=2,
            subject="s",
            time=dt.datetime.now(dt.UTC),
        )
        producer = Producer({"bootstrap.servers": bootstrap})
        producer.produce(TOPIC, b"definitely not avro at all", b"k", headers=env.to_headers())
        producer.flush(30)
        wanted = {delivery_id(subscriber, "health", e) for e in ids}
        assert len(read(bootstrap, subscriber, wanted)) == 3

        def scrape() -> str:
            return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text

        def line_value(text: str, name: str, *labels: str) -> float:
            for line in text.splitlines():
                if line.startswith(name) and all(label in line for label in labels):
                    return float(line.rsplit(" ", 1)[1])
            return 0.0

        assert wait_until(
            lambda: (
                line_value(scrape(), "govbus_events_dead_letters_total", 'reason="codec.magic"')
                >= 1
            ),
            30,
        )
        text = scrape()
        # The new app also processes events published before it started, so at least ours.
        assert line_value(text, "govbus_events_delivered_total", f'subscriber="{subscriber}"') >= 3
        assert (
            line_value(
                text, "govbus_events_in_total", 'govbus_event_type="gov.health.birth_registered"'
            )
            >= 3
        )
        assert "govbus_batch_duration_seconds_bucket" in text
        assert "govbus_event_latency_seconds_count" in text
        assert "govbus_consumer_lag" in text
    finally:
        worker.stop()

"""The Faust app: one agent over every catalogue topic, in batches, each batch one transaction.

Faust consumes and balances partitions across workers; the pipeline decides; the
transactional sink writes. An event is acked to Faust only after its batch committed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import faust
import redis
from confluent_kafka import KafkaException
from faust.types import TP

from govbus.config import ConnectionSettings, KeySettings, StreamsSettings
from govbus.federation import InboundLookup
from govbus.policy import PolicyDocument
from govbus.pseudonym import Pseudonymizer
from govbus.schemas.catalogue import Catalogue
from govbus.schemas.codec import AvroCodec
from govbus.schemas.registry import SchemaRegistryClient
from govbus.streams.dedupe import RedisDedupe
from govbus.streams.deliver import Projector
from govbus.streams.messages import InMessage
from govbus.streams.pipeline import Pipeline
from govbus.streams.sink import TransactionalSink, read_progress
from govbus.streams.validate import Validator

log = logging.getLogger(__name__)
RETRY_BACKOFF_S = (0.2, 0.5, 1.0, 2.0, 5.0)


def _headers(raw: Any) -> list[tuple[str, bytes]]:
    """Faust hands headers over as a list of (str, bytes) tuples or as a mapping."""
    if not raw:
        return []
    items = raw.items() if hasattr(raw, "items") else raw
    return [(str(k), v if isinstance(v, bytes) else str(v).encode()) for k, v in items]


def build_pipeline(
    conn: ConnectionSettings,
    streams: StreamsSettings,
    keys: KeySettings,
    catalogue: Catalogue,
    policy: Callable[[], PolicyDocument],
) -> Pipeline:
    # With a registry the worker also reads the Confluent wire format.
    registry = SchemaRegistryClient(conn.schema_registry_url) if conn.schema_registry_url else None
    codec = AvroCodec(registry)
    for event in catalogue:
        codec.register(event.schema)
    sink = TransactionalSink(conn.bootstrap, f"govbus-streams-{streams.worker_id}")
    dedupe = RedisDedupe(
        redis.Redis.from_url(conn.redis, socket_timeout=5),
        streams.app_id,
        streams.dedupe_window_s,
        streams.correction_window_s,
    )
    return Pipeline(
        app_id=streams.app_id,
        validator=Validator(
            catalogue,
            codec,
            streams.max_event_bytes,
            # Under the window (claims are made on arrival, after the event's time), with a
            # margin for clock skew between publishers and workers.
            max_age=dt.timedelta(seconds=streams.dedupe_window_s * 0.9),
            inbound=InboundLookup(policy, catalogue, codec),
            subjects=Pseudonymizer(keys),
        ),
        projector=Projector(codec, Pseudonymizer(keys)),
        codec=codec,
        policy=policy,
        sink=sink,
        dedupe=dedupe,
        load_progress=lambda: read_progress(conn.bootstrap, streams.app_id),
    )


def build_app(
    conn: ConnectionSettings, streams: StreamsSettings, catalogue: Catalogue, pipeline: Pipeline
) -> faust.App:
    datadir = streams.data_dir / streams.app_id
    datadir.mkdir(parents=True, exist_ok=True)  # Faust does not create parents
    app = faust.App(
        streams.app_id,
        broker=f"kafka://{conn.bootstrap}",
        web_enabled=False,
        datadir=str(datadir),
        topic_disable_leader=True,
        store="memory://",
        consumer_auto_offset_reset="earliest",
        broker_commit_every=streams.batch_size,
        broker_commit_interval=1.0,
        topic_allow_declare=False,
        producer_acks=-1,
        broker_credentials=faust_credentials(conn),
    )
    source = app.topic(
        *[e.topic for e in catalogue],
        key_serializer="raw",
        value_serializer="raw",
        allow_empty=True,
    )

    heartbeat = heartbeat_file(streams)

    async def beat() -> None:
        # A live event loop, for `govbus health worker` (container and Kubernetes probes).
        heartbeat.touch()

    cast(Any, app).timer(interval=HEARTBEAT_S)(beat)  # Faust's timer decorator is untyped

    @app.agent(source, name="govbus-route")
    async def route_events(stream: Any) -> None:
        async for events in stream.take_events(streams.batch_size, streams.batch_within_s):
            batch = [
                InMessage(
                    e.message.topic,
                    e.message.partition,
                    e.message.offset,
                    e.message.key,
                    e.message.value,
                    _headers(e.message.headers),
                )
                for e in events
            ]
            await commit_until_done(pipeline, batch)
            for tp in {(m.topic, m.partition) for m in batch}:
                last = max(m.offset for m in batch if (m.topic, m.partition) == tp)
                highwater = app.consumer.highwater(TP(*tp))
                if highwater is not None:
                    pipeline.metrics.lag.set(
                        max(highwater - last - 1, 0), {"topic": tp[0], "partition": tp[1]}
                    )

    async def _assigned(sender: Any, *args: Any, signal: Any = None, **kwargs: Any) -> None:
        pipeline.invalidate_progress()

    # mode types receivers as sync-or-awaitable callables in a way no async def satisfies.
    app.on_partitions_assigned.connect(_assigned)  # type: ignore[arg-type]

    return app


async def commit_until_done(pipeline: Pipeline, batch: list[InMessage]) -> None:
    """Never ack a batch that did not commit: retry while Kafka is unavailable; if the
    worker cannot go on, exit hard so a restart re-reads from the committed progress."""
    loop = asyncio.get_running_loop()
    attempt = 0
    while True:
        try:
            result = await loop.run_in_executor(None, pipeline.process, batch)
        except (KafkaException, redis.RedisError) as exc:
            delay = RETRY_BACKOFF_S[min(attempt, len(RETRY_BACKOFF_S) - 1)]
            log.warning(
                "batch commit failed; retrying", extra={"error": str(exc), "retry_in_s": delay}
            )
            attempt += 1
            await asyncio.sleep(delay)
            continue
        except Exception:
            log.exception("unexpected error in the pipeline; exiting so nothing is acked")
            os._exit(70)
        if result.outputs:
            log.info(
                "batch committed",
                extra={
                    "counts": dict(result.counts),
                    "outputs": result.outputs,
                    # cumulative per outcome: accepted, delivered:<subscriber>, duplicate,
                    # dlq:<reason>, already_committed
                    "totals": dict(pipeline.totals),
                },
            )
        return


HEARTBEAT_S = 5.0


def heartbeat_file(streams: StreamsSettings) -> Path:
    return streams.data_dir / streams.app_id / "heartbeat"


def faust_credentials(conn: ConnectionSettings) -> Any:
    """The same cluster security for Faust's (aiokafka) clients as for our librdkafka ones."""
    protocol = conn.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    context = None
    if protocol.endswith("SSL"):
        ca = conn.kafka_ssl_ca_location
        context = ssl.create_default_context(cafile=str(ca) if ca else None)
    if protocol.startswith("SASL"):
        security = conn.kafka_security()  # checks that user and password are set
        return faust.SASLCredentials(
            username=security["sasl.username"],
            password=security["sasl.password"],
            mechanism=conn.kafka_sasl_mechanism,
            ssl_context=context,
        )
    return faust.SSLCredentials(context)

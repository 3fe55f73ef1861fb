"""The stream worker: Faust for the group (membership, task assignment, rebalances, timers),
the runner for the data (read a batch of the owned tasks, decide, commit each task's share in
its own fenced transaction). See docs/delivery-guarantees.md.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import logging
import ssl
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, cast

import faust
import redis
from confluent_kafka.admin import AdminClient

from govbus.config import ConnectionSettings, KeySettings, StreamsSettings
from govbus.errors import ServiceUnavailableError
from govbus.federation import InboundLookup
from govbus.heartbeat import beat, heartbeat_file
from govbus.kafka_config import client_config
from govbus.policy import PolicyDocument
from govbus.pseudonym import Pseudonymizer
from govbus.schemas.catalogue import Catalogue
from govbus.schemas.codec import AvroCodec
from govbus.schemas.registry import SchemaRegistryClient
from govbus.schemas.topics import BULK, LANES, REALTIME, TASKS, Lane
from govbus.streams.dedupe import RedisDedupe
from govbus.streams.deliver import Projector
from govbus.streams.feed import BULK_PREFETCH_KB, PREFETCH_KB, Feed
from govbus.streams.pipeline import Pipeline
from govbus.streams.priority import Priority
from govbus.streams.runner import GIVE_UP_WAIT_S, Runner, RunnerSettings
from govbus.streams.sink import TransactionalProducer, producer_config, read_progress
from govbus.streams.tasks import TP, transactional_id
from govbus.streams.validate import Validator

log = logging.getLogger(__name__)


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
        sink=None,  # the runner commits each task through its own producer
        dedupe=dedupe,
        load_progress=lambda: read_progress(conn.bootstrap, streams.app_id),
    )


def build_runner(
    conn: ConnectionSettings,
    streams: StreamsSettings,
    catalogue: Catalogue,
    pipeline: Pipeline,
    *,
    lane: Lane = REALTIME,
    priority: Priority | None = None,
) -> Runner:
    """The runner of one lane: its topics, its feed, its producers (transactional ids per
    lane and task). Progress markers name the lane's topics, so they are the lane's own."""
    bootstrap, app_id = conn.bootstrap, streams.app_id
    topics = [e.lane_topic(lane) for e in catalogue]

    def partitions_by_topic() -> dict[str, int]:
        return partition_counts(bootstrap, topics)

    def new_producer(task: int) -> TransactionalProducer:
        return TransactionalProducer(
            producer_config(bootstrap, transactional_id(app_id, task, lane))
        )

    def progress(tps: list[TP]) -> dict[TP, dict[str, object]]:
        return read_progress(bootstrap, app_id, only=tps)

    bulk = lane == BULK
    return Runner(
        pipeline,
        Feed(
            bootstrap,
            f"{app_id}.{lane}" if bulk else app_id,
            prefetch_kb=BULK_PREFETCH_KB if bulk else PREFETCH_KB,
        ),
        app_id=app_id,
        task_count=partition_counts(bootstrap, [TASKS])[TASKS],
        new_producer=new_producer,
        read_progress=progress,
        partitions_by_topic=partitions_by_topic,
        settings=RunnerSettings(
            max_batch=streams.bulk_batch_size if bulk else streams.batch_size,
            linger_s=streams.batch_within_s,
        ),
        lane=lane,
        priority=priority,
    )


def build_runners(
    conn: ConnectionSettings,
    streams: StreamsSettings,
    keys: KeySettings,
    catalogue: Catalogue,
    policy: Callable[[], PolicyDocument],
) -> list[Runner]:
    """One runner per lane, real-time first; each decides with a pipeline of its own (their
    working states are apart; dedupe, routing, masking and audit are the same)."""
    priority = Priority()
    return [
        build_runner(
            conn,
            streams,
            catalogue,
            build_pipeline(conn, streams, keys, catalogue, policy),
            lane=lane,
            priority=priority,
        )
        for lane in LANES
    ]


def build_app(
    conn: ConnectionSettings, streams: StreamsSettings, runners: Sequence[Runner]
) -> faust.App:
    """Faust runs the worker: group membership, task assignment and rebalances, timers.

    The group's members subscribe to the task topic only; Faust's assignor hands each member
    some of its partitions, and partition *t* means task *t* (``streams.tasks``). Each lane's
    runner reads and commits its event topics' partitions of those tasks.
    """
    datadir = streams.data_dir / streams.app_id
    datadir.mkdir(parents=True, exist_ok=True)  # Faust does not create parents
    app = faust.App(
        streams.app_id,
        broker=f"kafka://{conn.bootstrap}",
        web_enabled=False,
        datadir=str(datadir),
        topic_disable_leader=True,
        store="memory://",
        consumer_auto_offset_reset="latest",
        topic_allow_declare=False,
        broker_session_timeout=streams.session_timeout_s,
        broker_heartbeat_interval=max(streams.session_timeout_s / 10, 0.5),
        broker_rebalance_timeout=max(streams.session_timeout_s, GIVE_UP_WAIT_S + 10),
        producer_acks=-1,
        broker_credentials=faust_credentials(conn),
    )
    tasks_topic = app.topic(TASKS, key_serializer="raw", value_serializer="raw", allow_empty=True)
    heartbeat = heartbeat_file(streams.data_dir / streams.app_id, "worker")

    async def alive() -> None:
        # A live event loop and a live runner, for `govbus health worker` (probes).
        # Ready once its first assignment was taken over: that is when it processes events.
        if all(
            runner.ready.is_set()
            and runner.alive()
            and time.monotonic() - runner.last_loop < RUNNER_STALL_S
            for runner in runners
        ):
            beat(heartbeat)

    cast(Any, app).timer(interval=HEARTBEAT_S)(alive)  # Faust's timer decorator is untyped

    @app.agent(tasks_topic, name="govbus-tasks")
    async def task_topic(stream: Any) -> None:
        # The task topic carries no records: its partitions are what the group assigns.
        async for event in stream.events():
            log.warning(
                "ignoring a record on the task topic", extra={"offset": event.message.offset}
            )

    # Faust sends the partitions positionally.
    # Every lane's runner takes over and gives up the same tasks, at the same time.
    async def _revoked(sender: Any, revoked: Any, **kwargs: Any) -> None:
        gone = _tasks(revoked)
        if gone:
            await _all(_bounded(r.give_up(gone), "giving tasks up") for r in runners)

    async def _assigned(sender: Any, assigned: Any, **kwargs: Any) -> None:
        tasks = _tasks(assigned)
        await _all(asyncio.wrap_future(r.take_over(tasks)) for r in runners)

    async def _stopping(sender: Any, **kwargs: Any) -> None:
        await _all(_bounded(r.stop(), "stopping the runner") for r in runners)

    # mode types receivers as sync-or-awaitable callables in a way no async def satisfies.
    app.on_partitions_revoked.connect(_revoked)  # type: ignore[arg-type]
    app.on_partitions_assigned.connect(_assigned)  # type: ignore[arg-type]
    app.on_before_shutdown.connect(_stopping)  # type: ignore[arg-type]
    for runner in runners:
        runner.start()
    return app


async def _all(waits: Iterable[Awaitable[None]]) -> None:
    await asyncio.gather(*waits)


def _tasks(tps: Any) -> set[int]:
    return {tp.partition for tp in tps if tp.topic == TASKS}


async def _bounded(done: concurrent.futures.Future[None], what: str) -> None:
    """A rebalance must not wait forever on a stuck commit: after the bound the group moves
    on, and fencing (not waiting) is what keeps a late commit out."""
    try:
        await asyncio.wait_for(asyncio.wrap_future(done), GIVE_UP_WAIT_S)
    except TimeoutError:
        log.warning("runner did not finish in time; fencing takes over", extra={"what": what})


def partition_counts(bootstrap: str, topics: list[str]) -> dict[str, int]:
    admin = AdminClient(client_config(bootstrap))
    meta = admin.list_topics(timeout=10).topics
    missing = [t for t in topics if t not in meta or meta[t].error is not None]
    if missing:
        raise ServiceUnavailableError(f"topics missing (run `govbus streams init`): {missing}")
    return {t: len(meta[t].partitions) for t in topics}


RUNNER_STALL_S = 60.0
HEARTBEAT_S = 1.0


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

"""``govbus streams``: the stream worker."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from govbus import policy_store, telemetry
from govbus.config import ConnectionSettings, KeySettings, StreamsSettings, load
from govbus.kafka_admin import ensure_bus_topics, ensure_topics
from govbus.logs import setup_logging, warn_unknown_settings
from govbus.policy import load_policy_file
from govbus.policy_store import ensure_policy_topics
from govbus.schemas.catalogue import Catalogue, default_catalogue
from govbus.schemas.topics import delivery_topic

app = typer.Typer(
    help="Run the stream processors (Faust): validate, route, mask, deliver.", no_args_is_help=True
)
log = logging.getLogger("govbus.streams")


def prepare_cluster(
    conn: ConnectionSettings,
    streams: StreamsSettings,
    catalogue: Catalogue,
    *,
    grow_partitions: bool = False,
) -> list[str]:
    """Create what the bus needs on the cluster (idempotent) and apply GOVBUS_POLICY_FILE.
    Raises EventPartitionsError if event topics do not all have GOVBUS_EVENT_PARTITIONS
    partitions (unless ``grow_partitions`` may add them)."""
    doc = load_policy_file(streams.policy_file, catalogue) if streams.policy_file else None
    subscribers = sorted({s.subscriber for s in doc.subscriptions}) if doc else []
    created = ensure_bus_topics(
        conn.bootstrap, catalogue, subscribers, settings=streams, grow=grow_partitions
    )
    created += ensure_policy_topics(conn.bootstrap, conn.policy_topic, [])
    if doc is not None:
        policy_store.write(conn.bootstrap, conn.policy_topic, policy_store.entries(doc))
        log.info("applied policy file", extra={"file": str(streams.policy_file)})
    return created


@app.command()
def init(
    grow_partitions: Annotated[
        bool,
        typer.Option(
            "--grow-partitions",
            help="add partitions to event topics that have fewer than GOVBUS_EVENT_PARTITIONS "
            "(stop the workers and let them catch up first)",
        ),
    ] = False,
) -> None:
    """Prepare a cluster for the bus (the init job of a deployment): create the event topics
    with GOVBUS_EVENT_PARTITIONS partitions, the DLQ, audit, progress, schema and policy
    topics with GOVBUS_PARTITIONS, all with GOVBUS_REPLICATION_FACTOR, and apply
    GOVBUS_POLICY_FILE if set. Safe to run again. Fails if an existing event topic has
    another partition count than GOVBUS_EVENT_PARTITIONS."""
    setup_logging()
    created = prepare_cluster(
        load(ConnectionSettings),
        load(StreamsSettings),
        default_catalogue(),
        grow_partitions=grow_partitions,
    )
    typer.echo(f"created {len(created)} topics: {', '.join(created) or '-'}")


@app.command()
def run() -> None:
    """Run one stream worker until stopped (SIGTERM/Ctrl-C).

    Reads GOVBUS_* settings. The policy is read from the policy topic and followed live;
    GOVBUS_POLICY_FILE, if set, is applied to that topic first.
    Start more workers with distinct GOVBUS_WORKER_ID values to scale out.
    """
    import faust  # noqa: PLC0415 - heavy import only for the worker

    from govbus.streams.app import build_app, build_runners  # noqa: PLC0415
    from govbus.streams.policy_table import PolicyTable  # noqa: PLC0415

    setup_logging()
    warn_unknown_settings()
    telemetry.setup("govbus-streams")
    conn, streams, keys = load(ConnectionSettings), load(StreamsSettings), load(KeySettings)
    keys.require_real("the stream worker")
    if keys.uses_dev_defaults:
        log.warning(
            "using the built-in development keys; set GOVBUS_PSEUDONYM_KEY, "
            "GOVBUS_SUBJECT_KEY and GOVBUS_DELIVERY_ID_KEY outside local runs"
        )
    catalogue = default_catalogue()
    prepare_cluster(conn, streams, catalogue)

    def new_subscriber(subscriber: str) -> None:
        ensure_topics(
            conn.bootstrap,
            {delivery_topic(subscriber): {}},
            partitions=streams.partitions,
            replication=streams.replication_factor,
        )

    table = PolicyTable(conn.bootstrap, conn.policy_topic, catalogue, new_subscriber)
    table.start()
    if not table.snapshot().subscriptions:
        log.warning("no subscriptions: events will be validated but delivered to nobody")
    runners = build_runners(conn, streams, keys, catalogue, table.snapshot)
    worker = faust.Worker(
        build_app(conn, streams, runners), loglevel="info", override_logging=False
    )
    worker.execute_from_commandline()

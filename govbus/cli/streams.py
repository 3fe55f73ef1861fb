"""``govbus streams``: the stream worker."""

from __future__ import annotations

import logging

import typer

from govbus import policy_store, telemetry
from govbus.config import ConnectionSettings, KeySettings, StreamsSettings, load
from govbus.kafka_admin import bus_topics, ensure_topics
from govbus.logs import setup_logging
from govbus.policy import load_policy_file
from govbus.policy_store import ensure_policy_topics
from govbus.schemas.catalogue import default_catalogue
from govbus.schemas.topics import delivery_topic

app = typer.Typer(
    help="Run the stream processors (Faust): validate, route, mask, deliver.", no_args_is_help=True
)
log = logging.getLogger("govbus.streams")


@app.command()
def run() -> None:
    """Run one stream worker until stopped (SIGTERM/Ctrl-C).

    Reads GOVBUS_* settings. The policy is read from the policy topic and followed live;
    GOVBUS_POLICY_FILE, if set, is applied to that topic first.
    Start more workers with distinct GOVBUS_WORKER_ID values to scale out.
    """
    import faust  # noqa: PLC0415 - heavy import only for the worker

    from govbus.streams.app import build_app, build_pipeline  # noqa: PLC0415
    from govbus.streams.policy_table import PolicyTable  # noqa: PLC0415

    setup_logging()
    telemetry.setup("govbus-streams")
    conn, streams, keys = load(ConnectionSettings), load(StreamsSettings), load(KeySettings)
    if keys.uses_dev_defaults:
        log.warning(
            "using the built-in development pseudonym keys; set GOVBUS_PSEUDONYM_KEY "
            "and GOVBUS_SUBJECT_KEY outside local runs"
        )
    catalogue = default_catalogue()
    ensure_topics(
        conn.bootstrap,
        bus_topics(catalogue, []),
        partitions=streams.partitions,
        replication=streams.replication_factor,
    )
    ensure_policy_topics(conn.bootstrap, conn.policy_topic, [])
    if streams.policy_file:
        doc = load_policy_file(streams.policy_file, catalogue)
        policy_store.write(conn.bootstrap, conn.policy_topic, doc.subscriptions)
        log.info("applied policy file", extra={"file": str(streams.policy_file)})

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
    pipeline = build_pipeline(conn, streams, keys, catalogue, table.snapshot)
    worker = faust.Worker(
        build_app(conn, streams, catalogue, pipeline), loglevel="info", override_logging=False
    )
    worker.execute_from_commandline()

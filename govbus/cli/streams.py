"""``govbus streams``: the stream worker."""

from __future__ import annotations

import logging

import typer

from govbus.config import ConnectionSettings, KeySettings, StreamsSettings, load
from govbus.kafka_admin import bus_topics, ensure_topics
from govbus.logs import setup_logging
from govbus.policy import PolicyDocument, load_policy_file, subscribers
from govbus.schemas.catalogue import default_catalogue

app = typer.Typer(
    help="Run the stream processors (Faust): validate, route, mask, deliver.", no_args_is_help=True
)
log = logging.getLogger("govbus.streams")


@app.command()
def run() -> None:
    """Run one stream worker until stopped (SIGTERM/Ctrl-C).

    Reads GOVBUS_* settings; the policy comes from GOVBUS_POLICY_FILE.
    Start more workers with distinct GOVBUS_WORKER_ID values to scale out.
    """
    import faust  # noqa: PLC0415 - heavy import only for the worker

    from govbus.streams.app import build_app, build_pipeline  # noqa: PLC0415

    setup_logging()
    conn, streams, keys = load(ConnectionSettings), load(StreamsSettings), load(KeySettings)
    if keys.uses_dev_defaults:
        log.warning(
            "using the built-in development pseudonym keys; set GOVBUS_PSEUDONYM_KEY "
            "and GOVBUS_SUBJECT_KEY outside local runs"
        )
    catalogue = default_catalogue()
    policy = (
        load_policy_file(streams.policy_file, catalogue)
        if streams.policy_file
        else PolicyDocument()
    )
    if not policy.subscriptions:
        log.warning("no subscriptions: events will be validated but delivered to nobody")
    ensure_topics(
        conn.bootstrap,
        bus_topics(catalogue, subscribers(policy)),
        partitions=streams.partitions,
        replication=streams.replication_factor,
    )
    pipeline = build_pipeline(conn, streams, keys, catalogue, policy)
    worker = faust.Worker(
        build_app(conn, streams, catalogue, pipeline), loglevel="info", override_logging=False
    )
    worker.execute_from_commandline()

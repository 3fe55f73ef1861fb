"""``govbus federation``: exchange with another province's bus under both policies."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Annotated

import typer
from rich.console import Console

from govbus import telemetry
from govbus.adapters.federation_bridge import Bridge
from govbus.adapters.publisher import Publisher
from govbus.config import ConnectionSettings, FederationSettings, LocalRuntimeSettings, load
from govbus.errors import ConfigError
from govbus.heartbeat import heartbeat_file
from govbus.logs import setup_logging

app = typer.Typer(
    help="Federation with a peer province's bus: this bus subscribes there, and what it "
    "receives is ingested here under this bus's own policy.",
    no_args_is_help=True,
)
console = Console()


@app.command()
def bridge(
    idle_exit: Annotated[
        float | None,
        typer.Option(help="stop after this many seconds without events (default: run on)"),
    ] = None,
) -> None:
    """Relay this bus's deliveries at the peer into this bus, acking there only after this
    bus's broker acknowledged (GOVBUS_PEER_NAME, GOVBUS_PEER_GATEWAY_URL, GOVBUS_PEER_API_KEY
    or GOVBUS_PEER_API_KEY_FILE). Safe to restart at any point: copies are deduplicated."""
    settings = load(FederationSettings)
    if not (settings.peer_name and settings.peer_gateway_url and settings.peer_api_key):
        raise ConfigError(
            "the bridge needs GOVBUS_PEER_NAME, GOVBUS_PEER_GATEWAY_URL and GOVBUS_PEER_API_KEY"
        )
    setup_logging()
    telemetry.setup("govbus-federation-bridge")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per long poll is noise
    with (
        Publisher(settings.peer_name, conn=load(ConnectionSettings)) as publisher,
        Bridge(
            peer=settings.peer_name,
            peer_gateway=settings.peer_gateway_url,
            api_key=settings.peer_api_key.get_secret_value(),
            publisher=publisher,
            limit=settings.peer_pull_limit,
            wait_s=settings.peer_wait_s,
        ) as relay,
    ):
        try:
            heartbeat = heartbeat_file(load(LocalRuntimeSettings).state_dir, "bridge")
            stats = relay.run(stop, idle_exit_s=idle_exit, heartbeat=heartbeat)
        except KeyboardInterrupt:
            stats = relay.stats
    console.print(
        f"relayed {stats.published} events from {settings.peer_name} "
        f"({stats.dead_lettered} dead-lettered, {stats.acked_pages} pages acked, "
        f"{stats.errors} retried failures)"
    )

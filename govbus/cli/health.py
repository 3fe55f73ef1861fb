"""``govbus health``: liveness checks for container and Kubernetes probes (exit 0 = healthy)."""

from __future__ import annotations

from pathlib import Path

import httpx
import typer

from govbus.config import (
    ConnectionSettings,
    GatewaySettings,
    LocalRuntimeSettings,
    StreamsSettings,
    load,
)
from govbus.heartbeat import age_s, heartbeat_file
from govbus.probes import readiness

app = typer.Typer(help="Health checks for probes: exit 0 when healthy.", no_args_is_help=True)


@app.command()
def gateway(
    ready: bool = typer.Option(False, "--ready", help="readiness (Kafka, Redis, PostgreSQL)"),
) -> None:
    """The local gateway answers /healthz (or /readyz with --ready)."""
    settings = load(GatewaySettings)
    path = "/readyz" if ready else "/healthz"
    try:
        ok = httpx.get(f"http://127.0.0.1:{settings.gateway_port}{path}", timeout=3).is_success
    except httpx.HTTPError:
        ok = False
    if not ok:
        typer.echo(f"gateway {path}: not healthy", err=True)
        raise typer.Exit(1)


@app.command()
def ready() -> None:
    """Kafka, Redis and PostgreSQL answer, reached with this process's ConnectionSettings
    (GOVBUS_KAFKA_SECURITY_PROTOCOL, SASL and TLS included), as the worker and gateway reach
    them."""
    down = [name for name, ok in readiness(load(ConnectionSettings)).items() if not ok]
    if down:
        typer.echo(f"not answering: {', '.join(down)}", err=True)
        raise typer.Exit(1)


def _fresh(beat: Path, max_age: float) -> None:
    age = age_s(beat)
    if age is None:
        typer.echo(f"no heartbeat at {beat}", err=True)
        raise typer.Exit(1)
    if age > max_age:
        typer.echo(f"last heartbeat {age:.0f}s ago", err=True)
        raise typer.Exit(1)


@app.command()
def indexer(max_age: float = typer.Option(30.0, help="seconds since the last heartbeat")) -> None:
    """Both indexers (disclosures, licences) are running."""
    _fresh(heartbeat_file(load(LocalRuntimeSettings).state_dir, "indexer"), max_age)


@app.command()
def bridge(max_age: float = typer.Option(60.0, help="seconds since the last heartbeat")) -> None:
    """The federation bridge completed a round with the peer's gateway and this bus's broker
    within MAX_AGE seconds (a long poll takes at most GOVBUS_PEER_WAIT_S)."""
    _fresh(heartbeat_file(load(LocalRuntimeSettings).state_dir, "bridge"), max_age)


@app.command()
def worker(
    max_age: float = typer.Option(30.0, help="seconds since the last heartbeat"),
) -> None:
    """The stream worker's event loop beat within MAX_AGE seconds."""
    streams = load(StreamsSettings)
    _fresh(heartbeat_file(streams.data_dir / streams.app_id, "worker"), max_age)


@app.command("acl-follower")
def acl_follower(
    max_age: float = typer.Option(60.0, help="seconds since the last heartbeat"),
) -> None:
    """The ACL follower (govbus acl follow) read the policy topic within MAX_AGE seconds."""
    _fresh(heartbeat_file(load(LocalRuntimeSettings).state_dir, "acl-follower"), max_age)

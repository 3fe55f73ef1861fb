"""``govbus dev``: the local runtime (Kafka + Redis + PostgreSQL), no Docker needed."""

from __future__ import annotations

import os
from typing import Annotated

import typer
from rich.console import Console

from govbus.cli.output import JsonOption, emit
from govbus.config import LocalRuntimeSettings, load
from govbus_devtools.demo.crossprovince import PEER_IN_A
from govbus_devtools.devenv.packages import CHROMIUM, ensure_commands
from govbus_devtools.devenv.peer import PeerRuntime
from govbus_devtools.devenv.runtime import Runtime

app = typer.Typer(
    help="Run the local runtime: a KRaft Kafka broker, Redis and PostgreSQL.", no_args_is_help=True
)
console = Console()

Brokers = Annotated[
    int | None,
    typer.Option(
        "--brokers",
        min=1,
        max=4,
        help="Kafka nodes (each a broker and a KRaft controller), node i on the Kafka ports "
        "+ 10 * i; 3 gives replication 3 with min.insync.replicas 2 [default: "
        "GOVBUS_KAFKA_BROKERS, 1]",
        show_default=False,
    ),
]


def _runtime(brokers: int | None) -> Runtime:
    local = load(LocalRuntimeSettings)
    if brokers is not None:
        local = local.model_copy(update={"kafka_brokers": brokers})
    return Runtime(local)


@app.command()
def up(brokers: Brokers = None) -> None:
    """Start (or reuse) the local services; downloads Kafka from Maven Central on first use.

    Services named by GOVBUS_KAFKA_BOOTSTRAP, GOVBUS_REDIS_URL or GOVBUS_PG_DSN are
    checked instead of started.
    """
    rt = _runtime(brokers)
    with console.status("starting the local runtime..."):
        lines = rt.up()
    for line in lines:
        console.print(f"[green]✓[/] {line}")
    size = rt.local.kafka_brokers
    if size > 1 and os.environ.get("GOVBUS_KAFKA_BROKERS") != str(size):
        console.print(
            f"  for other commands to use every node and create topics with 3 replicas: "
            f"export GOVBUS_KAFKA_BROKERS={size} GOVBUS_REPLICATION_FACTOR={min(size, 3)}"
        )


@app.command()
def down(brokers: Brokers = None) -> None:
    """Stop the services that `govbus dev up` and the demo started (by pid), province B's
    included, and every local Kafka node whatever the cluster's size; data is kept."""
    stopped = _runtime(brokers).down()
    # The demo's cross-province case runs province B's services beside these.
    peer = PeerRuntime.beside(load(LocalRuntimeSettings), PEER_IN_A)
    stopped += [f"province B's {name}" for name in peer.down()]
    console.print(f"stopped: {', '.join(stopped) or 'nothing was running'}")


@app.command()
def status(brokers: Brokers = None, as_json: JsonOption = False) -> None:
    """Show each service (each Kafka node), where it is, and whether it answers."""
    rows = [
        {
            "service": s.name,
            "where": s.where,
            "started by govbus": s.managed,
            "pid": s.pid,
            "answers": s.ready,
        }
        for s in _runtime(brokers).status()
    ]
    emit(
        console, ["service", "where", "started by govbus", "pid", "answers"], rows, as_json=as_json
    )


@app.command()
def browser() -> None:
    """Install Debian's chromium when it is missing (the console's browser tests drive it;
    Playwright never downloads a browser of its own)."""
    ensure_commands({CHROMIUM: "chromium"})
    console.print(f"[green]✓[/] chromium at {CHROMIUM}")

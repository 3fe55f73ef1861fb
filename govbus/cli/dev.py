"""``govbus dev``: the local runtime (Kafka + Redis + PostgreSQL), no Docker needed."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from govbus.config import LocalRuntimeSettings, load
from govbus.demo.crossprovince import PEER_IN_A
from govbus.devenv.peer import PeerRuntime
from govbus.devenv.runtime import Runtime

app = typer.Typer(
    help="Run the local runtime: a KRaft Kafka broker, Redis and PostgreSQL.", no_args_is_help=True
)
console = Console()


@app.command()
def up() -> None:
    """Start (or reuse) the local services; downloads Kafka from Maven Central on first use.

    Services named by GOVBUS_KAFKA_BOOTSTRAP, GOVBUS_REDIS_URL or GOVBUS_PG_DSN are
    checked instead of started.
    """
    with console.status("starting the local runtime..."):
        lines = Runtime().up()
    for line in lines:
        console.print(f"[green]✓[/] {line}")


@app.command()
def down() -> None:
    """Stop the services that `govbus dev up` and the demo started (by pid), province B's
    included; data is kept."""
    stopped = Runtime().down()
    # The demo's cross-province case runs province B's services beside these.
    peer = PeerRuntime.beside(load(LocalRuntimeSettings), PEER_IN_A)
    stopped += [f"province B's {name}" for name in peer.down()]
    console.print(f"stopped: {', '.join(stopped) or 'nothing was running'}")


@app.command()
def status() -> None:
    """Show each service, where it is, and whether it answers."""
    table = Table("service", "where", "started by govbus", "pid", "answers")
    for s in Runtime().status():
        table.add_row(
            s.name,
            s.where,
            "yes" if s.managed else "no (external)",
            str(s.pid or "-"),
            "[green]yes[/]" if s.ready else "[red]no[/]",
        )
    console.print(table)

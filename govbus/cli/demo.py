"""``govbus demo``: the seed scenarios on the local runtime."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from govbus import telemetry
from govbus.demo.spine import run_spine
from govbus.gateway.reader import Received

console = Console()


def _received_table(subscriber: str, item: Received) -> Table:
    table = Table(
        title=f"{subscriber} received (subscription {item.subscription})", title_justify="left"
    )
    for column in ("field", "value", "rule"):
        table.add_column(column)
    for field in item.schema.get("fields", []):
        table.add_row(
            field["name"], str(item.record.get(field["name"])), field.get("govbus.mask", "")
        )
    return table


def demo() -> None:
    """Run the demo: a birth is published; each entitled department gets only its fields.

    Starts the local runtime and a stream worker if needed.
    """
    telemetry.setup("govbus-demo")
    with console.status("starting the local runtime and a stream worker..."):
        outcome = run_spine()
    console.print(
        f"[bold]published[/] gov.health.birth_registered id={outcome.event_id} "
        "by the hospital's birth registry (PostgreSQL outbox -> relay -> Kafka)"
    )
    missing = [s for s, item in outcome.received.items() if item is None]
    for subscriber, item in outcome.received.items():
        if item is not None:
            console.print(_received_table(subscriber, item))
    for subscriber in missing:
        console.print(f"[red]✗ {subscriber}: nothing received[/]")
    for subscriber, count in outcome.unauthorized.items():
        verdict = "no delivery topic exists, nothing received" if count == 0 else "[red]LEAK[/]"
        console.print(f"[bold]{subscriber}[/] (no grant): {verdict}")
    delivered = len(outcome.received) - len(missing)
    console.print(f"delivered to {delivered} departments in {outcome.seconds:.2f}s")
    if missing or any(outcome.unauthorized.values()):
        raise typer.Exit(1)

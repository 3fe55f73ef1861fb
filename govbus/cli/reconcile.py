"""``govbus reconcile``: prove that nothing was lost or duplicated since a point in time."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import time
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from govbus.cli.spans import span
from govbus.config import ConnectionSettings, StreamsSettings, load
from govbus.policy_store import read as read_policy
from govbus.schemas.catalogue import default_catalogue
from govbus.streams.reconcile import Reconciliation, collect

console = Console()


def parse_since(value: str, now: dt.datetime | None = None) -> dt.datetime:
    """An RFC 3339 time (with zone), or a span back from now: 90s, 15m, 2h, 7d."""
    now = now or dt.datetime.now(dt.UTC)
    back = span(value)
    if back is not None:
        return now - back
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter("use RFC 3339 (2026-11-23T10:00:00Z) or 90s/15m/2h/7d") from None
    if parsed.tzinfo is None:
        raise typer.BadParameter("give a time zone (Z or +08:00)")
    return parsed


def reconcile(
    since: Annotated[str, typer.Option(help="from when: RFC 3339 time, or 15m / 2h / 7d back")],
    app_id: Annotated[
        str | None, typer.Option(help="the worker group to check (default: GOVBUS_APP_ID)")
    ] = None,
    wait: Annotated[
        float, typer.Option(help="seconds to wait for pending inputs to be processed", min=0)
    ] = 0.0,
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Count every input event since SINCE against its outcomes: delivered to each
    subscriber exactly once, duplicate, or dead-lettered exactly once. Deliveries and
    decisions in the window for inputs older than it are checked too (each delivery's topic
    is read back to its event's time). Lists every gap and exits 1 if there is one. Inputs
    the worker has not reached yet are 'pending', not lost."""
    start = parse_since(since)
    conn = load(ConnectionSettings)
    group = app_id or load(StreamsSettings).app_id
    catalogue = default_catalogue()
    deadline = time.monotonic() + wait
    with console.status(f"reading the bus since {start.isoformat()}..."):
        # Every subscriber's topic, also those the window's audit does not name: a copy
        # written there for an older input shows only on the topic.
        subscribers = {
            s.subscriber for s in read_policy(conn.bootstrap, conn.policy_topic).subscriptions
        }
        result = collect(conn.bootstrap, catalogue, group, start, subscribers)
        while result.pending and time.monotonic() < deadline:
            time.sleep(1)
            result = collect(conn.bootstrap, catalogue, group, start, subscribers)
    if as_json:
        data = dataclasses.asdict(result)
        data["exact"] = result.exact
        console.print_json(json.dumps(data))
    else:
        _print(result, group, start)
    if not result.exact:
        raise typer.Exit(1)


def _print(result: Reconciliation, group: str, since: dt.datetime) -> None:
    table = Table(title=f"{group} since {since.isoformat()}", title_justify="left")
    table.add_column("inputs", justify="right")
    for column in ("accepted", "duplicate", "dead letter", "pending", "deliveries"):
        table.add_column(column, justify="right")
    table.add_row(
        str(result.inputs),
        str(result.accepted),
        str(result.duplicates),
        str(result.dead_letters),
        str(result.pending),
        str(result.deliveries),
    )
    console.print(table)
    for subscriber, count in sorted(result.by_subscriber.items()):
        console.print(f"  {subscriber}: {count} delivered exactly once")
    for peer, count in sorted(result.from_peers.items()):
        console.print(
            f"  from {peer}: {count} dead-lettered by the federation bridge before intake"
            " (govbus dlq list)"
        )
    for gap in result.gaps[:100]:
        console.print(f"[red]✗ {gap.kind}[/] {gap.position} event {gap.event_id} {gap.detail}")
    if result.exact:
        console.print("[green]✓ exact: nothing lost, nothing delivered twice[/]")
    else:
        console.print(f"[red]{len(result.gaps)} gaps[/]")

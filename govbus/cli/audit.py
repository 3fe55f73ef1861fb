"""``govbus audit``: verify the hash chains of the audit topic."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from govbus.audit_log import committed_heads, event_records, read_audit
from govbus.cli.output import print_whole
from govbus.config import ConnectionSettings, load
from govbus.schemas.audit import verify, verify_heads
from govbus.trace_index import TraceLookup, assemble

app = typer.Typer(help="The audit trail.", no_args_is_help=True)
console = Console()


@app.command("verify")
def verify_() -> None:
    """Re-compute every chain link of govbus.audit and check each worker chain against its
    committed head; exit 1 if any record was altered, removed (tail included) or reordered."""
    bootstrap = load(ConnectionSettings).bootstrap
    heads = committed_heads(bootstrap)  # before the records: later records are fine
    records = read_audit(bootstrap)
    problems = verify(records) + verify_heads(records, heads)
    for problem in problems[:50]:
        console.print(f"[red]✗[/] {problem}")
    chains = len({r.chain for r in records})
    if problems:
        console.print(f"{len(problems)} problems in {len(records)} records")
        raise typer.Exit(1)
    console.print(f"[green]✓[/] {len(records)} records in {chains} chains verify")


def trace(
    event_id: Annotated[str, typer.Argument(help="the event id (ce_id) the publisher got back")],
    jaeger: Annotated[str, typer.Option(envvar="GOVBUS_JAEGER_URL", help="trace UI base URL")] = (
        "http://localhost:16686"
    ),
    scan: Annotated[
        bool, typer.Option(help="read the whole audit topic instead of the trace index")
    ] = False,
) -> None:
    """Follow one event through the bus from the audit trail: accepted, delivered to whom
    with which fields and masks, duplicates, dead letters, reads; with its traces (the
    publish trace, and each delivery's own, linked to it). From the trace index (`govbus
    index run`) in well under a second; an event it does not know yet is looked for in the
    whole audit topic (seconds per hundred thousand records)."""
    conn = load(ConnectionSettings)
    found = None
    if not scan:
        lookup = TraceLookup(conn.bootstrap, conn.pg)
        lookup.store.init()
        try:
            found = lookup(event_id)
        finally:
            lookup.close()
        if found is None:
            console.print("[yellow]not in the trace index yet:[/] scanning the audit topic")
    if found is None:
        found = assemble(event_id, event_records(conn.bootstrap, event_id))
    if found is None:
        console.print(
            f"[red]no audit record for event {event_id}[/] (not published, or not processed yet)"
        )
        raise typer.Exit(1)
    first = found.records[0]
    console.print(f"[bold]{first.type}.v{first.version}[/] from {first.source}, event {event_id}")
    table = Table("at", "step", "who", "details")
    for column in table.columns[:3]:
        column.no_wrap = True
    for r in found.records:
        who = r.subscriber or r.source
        if r.kind == "delivered":
            details = ", ".join(f"{k}:{v}" for k, v in r.fields.items())
            details += f"\n{r.subscription} | {r.legal_basis} | {r.purpose}"
        elif r.kind in ("duplicate", "dead_letter", "read"):
            details = f"{r.reason} {r.detail}".strip()
        else:
            details = r.input
        table.add_row(r.at[:23], r.kind, who, details)
    print_whole(console, table)
    for trace_id, what in found.traces.items():
        console.print(f"trace {trace_id} ({what}): {jaeger.rstrip('/')}/trace/{trace_id}")
    if not found.traces:
        console.print("no trace context was recorded for this event")

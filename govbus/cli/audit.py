"""``govbus audit``: verify the hash chains of the audit topic."""

from __future__ import annotations

import typer
from rich.console import Console

from govbus.audit_log import read_audit
from govbus.config import ConnectionSettings, load
from govbus.schemas.audit import verify

app = typer.Typer(help="The audit trail.", no_args_is_help=True)
console = Console()


@app.command("verify")
def verify_() -> None:
    """Re-compute every chain link of govbus.audit; exit 1 if any record was altered,
    removed or reordered."""
    records = read_audit(load(ConnectionSettings).bootstrap)
    problems = verify(records)
    for problem in problems[:50]:
        console.print(f"[red]✗[/] {problem}")
    chains = len({r.chain for r in records})
    if problems:
        console.print(f"{len(problems)} problems in {len(records)} records")
        raise typer.Exit(1)
    console.print(f"[green]✓[/] {len(records)} records in {chains} chains verify")

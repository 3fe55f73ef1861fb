"""``govbus schemas``: the event catalogue."""

from __future__ import annotations

import json
import shutil
import subprocess
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.console import Console
from rich.table import Table

from govbus import __version__
from govbus.cli.output import JsonOption, emit
from govbus.config import ConnectionSettings, load
from govbus.schemas.asyncapi import asyncapi_document
from govbus.schemas.catalogue import default_catalogue
from govbus.schemas.codegen import generate
from govbus.schemas.gate import gate, read_lock, updated_lock, write_lock

app = typer.Typer(
    help="The event catalogue: list, show, check evolution, export AsyncAPI.", no_args_is_help=True
)
console = Console()


@app.command("list")
def list_(as_json: JsonOption = False) -> None:
    """Every event type: owner, sharing type, topic."""
    rows = [
        {
            "type": e.type,
            "v": e.version,
            "owner": e.owner,
            "sharing": e.sharing,
            "fields": len(e.fields),
            "topic": e.topic,
        }
        for e in default_catalogue()
    ]
    emit(console, ["type", "v", "owner", "sharing", "fields", "topic"], rows, as_json=as_json)


@app.command()
def show(
    event_type: Annotated[str, typer.Argument(help="e.g. gov.health.birth_registered")],
    version: Annotated[int | None, typer.Option(help="default: latest")] = None,
) -> None:
    """One event type: its catalogue entry and fields with classifications."""
    event = default_catalogue().get(event_type, version)
    if event is None:
        console.print(f"[red]unknown event type {event_type}[/]")
        raise typer.Exit(2)
    console.print(f"[bold]{event.ce_type}[/]  owner={event.owner}  sharing={event.sharing}")
    console.print(f"legal basis: {event.legal_basis}\n{event.doc}")
    table = Table("field", "class", "format", "nullable", "doc")
    for f in event.fields.values():
        table.add_row(f.name, f.classification, f.format or "", "yes" if f.nullable else "", f.doc)
    console.print(table)


@app.command("check")
def check_() -> None:
    """The evolution gate: published versions unchanged, each new version compatible.

    Exits 1 with every problem listed; runs in `make test`.
    """
    problems = gate(default_catalogue(), read_lock())
    for problem in problems:
        console.print(f"[red]✗[/] {problem}")
    if problems:
        raise typer.Exit(1)
    console.print(f"[green]✓[/] {len(default_catalogue())} event versions pass the gate")


@app.command()
def lock() -> None:
    """Record new versions in the lock file (after the gate's other checks pass)."""
    catalogue = default_catalogue()
    current = read_lock()
    new = updated_lock(catalogue, current)
    problems = gate(catalogue, new)
    if problems:
        for problem in problems:
            console.print(f"[red]✗[/] {problem}")
        raise typer.Exit(1)
    write_lock(new)
    console.print(f"locked {len(new) - len(current)} new versions ({len(new)} in all)")


@app.command()
def models() -> None:
    """Regenerate schemas/models.py (typed models) from the .avsc files."""
    target = Path(str(resources.files("govbus.schemas").joinpath("models.py")))
    target.write_text(generate(default_catalogue()))
    ruff = shutil.which("ruff")
    if ruff:
        subprocess.run([ruff, "format", "-q", str(target)], check=False)
    console.print(f"wrote {target}")


@app.command()
def asyncapi(
    output: Annotated[Path | None, typer.Option("-o", help="write here (default stdout)")] = None,
    fmt: Annotated[str, typer.Option("--format", help="yaml or json")] = "yaml",
) -> None:
    """Export the catalogue as an AsyncAPI 3.0 document."""
    doc = asyncapi_document(
        default_catalogue(), version=__version__, server=load(ConnectionSettings).bootstrap
    )
    text = (
        json.dumps(doc, indent=2, ensure_ascii=False)
        if fmt == "json"
        else yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
    )
    if output is None:
        typer.echo(text)
    else:
        output.write_text(text)
        console.print(f"wrote {output}")

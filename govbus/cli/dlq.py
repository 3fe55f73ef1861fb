"""``govbus dlq``: dead letters, with their reasons; redrive after fixing the cause."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from govbus.cli.output import JsonOption, emit
from govbus.config import ConnectionSettings, load
from govbus.dlq import read_dead_letters, redrive

app = typer.Typer(help="List, inspect and redrive dead letters.", no_args_is_help=True)
console = Console()


@app.command("list")
def list_(
    reason: Annotated[str | None, typer.Option(help="only this reason code")] = None,
    limit: Annotated[int, typer.Option(help="newest N")] = 50,
    as_json: JsonOption = False,
) -> None:
    """Dead letters, newest last: reason, origin, event id."""
    letters = read_dead_letters(load(ConnectionSettings).bootstrap)
    if reason:
        letters = [d for d in letters if d.reason == reason]
    rows = [
        {
            "ref": d.ref,
            "reason": d.reason,
            "from": f"{d.source_topic}@{d.source_position}",
            "event id": d.event_id,
            "type": d.ce_type,
            "at": d.at if as_json else d.at[:19],
        }
        for d in letters[-limit:]
    ]
    emit(console, ["ref", "reason", "from", "event id", "type", "at"], rows, as_json=as_json)
    if not as_json:
        console.print(f"{len(letters)} dead letters")


@app.command()
def show(ref: Annotated[str, typer.Argument(help="PARTITION:OFFSET from `dlq list`")]) -> None:
    """One dead letter: reason, message, origin and original headers (payload size only)."""
    letter = next(
        (d for d in read_dead_letters(load(ConnectionSettings).bootstrap) if d.ref == ref), None
    )
    if letter is None:
        console.print(f"[red]no dead letter {ref}[/]")
        raise typer.Exit(2)
    console.print(f"[bold]{letter.reason}[/]: {letter.message}")
    console.print(f"from {letter.source_topic} @ {letter.source_position}, at {letter.at}")
    console.print(f"payload: {len(letter.value or b'')} bytes")
    for key, value in letter.original_headers:
        console.print(f"  {key}: {value[:120].decode(errors='replace')}")


@app.command("redrive")
def redrive_(
    refs: Annotated[list[str] | None, typer.Argument(help="PARTITION:OFFSET ...")] = None,
    reason: Annotated[str | None, typer.Option(help="all dead letters with this reason")] = None,
) -> None:
    """Send dead letters back to their event topic (e.g. after a catalogue fix). They are
    validated again; what is still wrong returns to the DLQ."""
    if not refs and not reason:
        console.print("[red]name refs or --reason[/]")
        raise typer.Exit(2)
    bootstrap = load(ConnectionSettings).bootstrap
    wanted = set(refs or [])
    letters = [
        d
        for d in read_dead_letters(bootstrap)
        if d.ref in wanted or (reason is not None and d.reason == reason)
    ]
    console.print(f"redriven {redrive(bootstrap, letters)} of {len(letters)}")

"""``govbus outbox`` and ``govbus load``: ways in for department systems."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from govbus import telemetry
from govbus.adapters import outbox as outbox_ddl
from govbus.adapters.batch_loader import BatchLoader
from govbus.adapters.outbox_relay import OutboxRelay, pending_counts
from govbus.adapters.publisher import Publisher
from govbus.cli.output import JsonOption, emit
from govbus.config import ConnectionSettings, load
from govbus.logs import setup_logging
from govbus.schemas.topics import BULK, REALTIME

outbox_app = typer.Typer(
    help="PostgreSQL transactional outbox: create it, relay it.", no_args_is_help=True
)
console = Console()
Dsn = Annotated[
    str | None, typer.Option(help="PostgreSQL DSN (default: GOVBUS_PG_DSN or the local runtime)")
]
Table = Annotated[str, typer.Option(help="outbox table name")]


class LaneChoice(StrEnum):
    """schemas.topics.LANES, as typer wants choices (an enum)."""

    realtime = REALTIME
    bulk = BULK


def _dsn(dsn: str | None) -> str:
    return dsn or load(ConnectionSettings).pg


@outbox_app.command("init")
def init(dsn: Dsn = None, table: Table = outbox_ddl.DEFAULT_TABLE) -> None:
    """Create the outbox table, its index and the NOTIFY trigger (idempotent)."""
    outbox_ddl.init(_dsn(dsn), table)
    console.print(f"outbox table {table} ready")


@outbox_app.command()
def relay(
    dsn: Dsn = None,
    table: Table = outbox_ddl.DEFAULT_TABLE,
    once: Annotated[bool, typer.Option(help="stop when nothing is pending")] = False,
    batch_size: Annotated[int, typer.Option(min=1, max=10_000)] = 100,
) -> None:
    """Move outbox rows to Kafka, in order per aggregate; several relays may run at once."""
    setup_logging()
    telemetry.setup("govbus-outbox-relay")
    stats = OutboxRelay(_dsn(dsn), {}, table=table, batch_size=batch_size).run(once=once)
    console.print(f"sent {stats.sent}, rejected {stats.rejected}, batches {stats.batches}")


@outbox_app.command()
def status(
    dsn: Dsn = None, table: Table = outbox_ddl.DEFAULT_TABLE, as_json: JsonOption = False
) -> None:
    """Rows by status: pending, sent, rejected."""
    counts = pending_counts(_dsn(dsn), table)
    rows = [{"status": k, "rows": v} for k, v in sorted(counts.items())]
    emit(console, ["status", "rows"], rows, as_json=as_json)


def load_file(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help=".csv or .jsonl")],
    *,
    event_type: Annotated[str, typer.Option("--type", help="e.g. gov.health.birth_registered")],
    source: Annotated[str, typer.Option(help="publishing department id")],
    version: Annotated[int | None, typer.Option(help="default: latest")] = None,
    restart: Annotated[bool, typer.Option(help="ignore the checkpoint of an earlier run")] = False,
    lane: Annotated[
        LaneChoice,
        typer.Option(
            help="bulk (default): read apart from real-time traffic, which it never delays"
        ),
    ] = LaneChoice.bulk,
) -> None:
    """Validate and publish a batch file; rejects go to FILE.rejects.jsonl with line numbers.
    A re-run resumes after the last acknowledged row and publishes nothing twice."""
    telemetry.setup("govbus-loader")
    total = sum(1 for _ in file.open(encoding="utf-8", errors="replace"))
    with (
        Publisher(source, lane=lane.value) as pub,
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as progress,
    ):
        task = progress.add_task(f"loading {file.name}", total=total)
        report = BatchLoader(pub, event_type, version).load(
            file, restart=restart, on_row=lambda line: progress.update(task, completed=line)
        )
    console.print(
        f"published {report.published}, rejected {report.rejected} "
        f"(see {report.rejects_file}), skipped {report.skipped} done earlier"
    )
    if report.rejected:
        raise typer.Exit(1)

"""``govbus index``, ``govbus disclosures``, ``govbus corrections``, ``govbus licences``:
the citizen's disclosure report, correction follow-up and licence verification."""

from __future__ import annotations

import datetime as dt
import json
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from govbus import telemetry
from govbus.cli.output import print_whole
from govbus.cli.spans import span
from govbus.config import ConnectionSettings, KeySettings, LocalRuntimeSettings, load
from govbus.disclosures import Disclosure, DisclosureStore, subject_pseudonyms
from govbus.licences import LicenceStore, status
from govbus.logs import setup_logging
from govbus.pseudonym import Pseudonymizer
from govbus.schemas.catalogue import default_catalogue

console = Console()
index_app = typer.Typer(help="The disclosure and licence indexes.", no_args_is_help=True)
disclosures_app = typer.Typer(
    help="Who received a person's or enterprise's data.", no_args_is_help=True
)
corrections_app = typer.Typer(
    help="Corrections and retractions not yet acknowledged.", no_args_is_help=True
)
licences_app = typer.Typer(help="Electronic licence verification.", no_args_is_help=True)


@index_app.command("run")
def run(once: Annotated[bool, typer.Option(help="catch up, then exit")] = False) -> None:
    """Follow the audit topic (disclosures, reads, acknowledgements) and the licence
    registry's deliveries into PostgreSQL. Safe to run in several copies."""
    from govbus.heartbeat import heartbeat_file  # noqa: PLC0415
    from govbus.indexing import Indexes  # noqa: PLC0415

    setup_logging()
    telemetry.setup("govbus-indexer")  # the audit chain check's metric, among others
    conn = load(ConnectionSettings)
    indexes = Indexes(conn.bootstrap, conn.pg)
    try:
        if once:
            with console.status("indexing...") as shown:
                total = indexes.catch_up(progress=lambda n: shown.update(f"indexed {n} records"))
            console.print(f"indexed {total} records")
        else:
            state_dir = load(LocalRuntimeSettings).state_dir
            state_dir.mkdir(parents=True, exist_ok=True)
            indexes.run_forever(heartbeat_file(state_dir, "indexer"))
    finally:
        indexes.close()


def _table(rows: list[Disclosure], title: str, *, with_ids: bool = True) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("when", "from", "to", "event", "fields [mask]", "basis, purpose", "read", "ack"):
        # Ids (subscription, delivery ids) and times are never cut or wrapped.
        table.add_column(column, no_wrap=column in ("when", "to", "event", "read", "ack"))
    for d in rows:
        fields = ", ".join(
            f"{k}" + ("" if r == "clear" else f" [{r}]") for k, r in d.fields.items()
        )
        amended = f" of {d.amends}" if with_ids else ""
        event = d.event_type + (f"\n{d.amendment}{amended}" if d.amendment else "")
        table.add_row(
            d.delivered_at.isoformat(timespec="seconds"),
            d.source + (" (another province)" if d.from_peer else ""),
            f"{d.subscriber}\n{d.subscription}",
            event,
            fields,
            f"{d.legal_basis}\n{d.purpose}",
            d.read_at.isoformat(timespec="seconds") if d.read_at else "not yet",
            (d.acked_at.isoformat(timespec="seconds") if d.acked_at else "pending")
            if d.amendment
            else "",
        )
    return table


@disclosures_app.command("show")
def show(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every delivery of data about a subject: to whom, which fields and masks, when, under
    which agreement, legal basis and purpose, and whether it was read -- the citizen's
    report, without delivery or event ids. The identifiers (citizen ID, credit code,
    certificate number) are read from standard input, one a line, or asked for without
    echo: never from the command line, where shell history and the process list keep them."""
    if sys.stdin.isatty():
        identifiers = [typer.prompt("identifier", hide_input=True).strip()]
    else:
        identifiers = [line.strip() for line in sys.stdin if line.strip()]
    if not identifiers:
        raise typer.BadParameter("give at least one identifier on standard input")
    conn = load(ConnectionSettings)
    pseudonymizer, catalogue = Pseudonymizer(load(KeySettings)), default_catalogue()
    subjects = [p for i in identifiers for p in subject_pseudonyms(pseudonymizer, catalogue, i)]
    rows = DisclosureStore(conn.pg).report(subjects)
    if as_json:
        typer.echo(json.dumps([d.for_citizen() for d in rows], ensure_ascii=False, indent=2))
    else:
        print_whole(console, _table(rows, f"{len(rows)} deliveries", with_ids=False))


def parse_span(value: str) -> dt.timedelta:
    parsed = span(value)
    if parsed is None:
        raise typer.BadParameter("use 90s, 15m, 48h or 10d")
    return parsed


@corrections_app.command("pending")
def pending(
    older_than: Annotated[str, typer.Option(help="deadline: 48h, 10d ...")] = "48h",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Corrections and retractions delivered longer ago than the deadline and not yet
    acknowledged by their recipient. Exit 1 if there are any."""
    rows = DisclosureStore(load(ConnectionSettings).pg).pending_amendments(
        parse_span(older_than), dt.datetime.now(dt.UTC)
    )
    if as_json:
        typer.echo(json.dumps([d.to_json() for d in rows], ensure_ascii=False, indent=2))
    else:
        print_whole(console, _table(rows, f"{len(rows)} unacknowledged past {older_than}"))
    if rows:
        raise typer.Exit(1)


@licences_app.command("verify")
def verify(
    licence_id: Annotated[str, typer.Argument(help="GB/T 36904 licence identifier")],
) -> None:
    """valid, revoked, expired, not_yet_valid or unknown (exit 0 only for valid)."""
    answer = status(LicenceStore(load(ConnectionSettings).pg).state(licence_id), dt.date.today())
    typer.echo(answer)
    if answer != "valid":
        raise typer.Exit(1)

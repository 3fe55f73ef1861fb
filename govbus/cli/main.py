"""Entry point: ``govbus --help``."""

from __future__ import annotations

import sys
from importlib.metadata import entry_points
from typing import Annotated

import typer
from rich.console import Console

from govbus import __version__
from govbus.cli import (
    adapters,
    audit,
    config,
    dlq,
    federation,
    gateway,
    health,
    indexes,
    policy,
    reconcile,
    schemas,
    streams,
)
from govbus.errors import GovbusError

app = typer.Typer(
    help="govbus: publish a government fact once; every entitled department receives only "
    "its fields, masked as agreed, traced and audited.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"govbus {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="print the version"),
    ] = False,
) -> None:
    """govbus: publish a government fact once; every entitled department receives only its
    fields, masked as agreed, traced and audited."""


app.add_typer(streams.app, name="streams")
app.add_typer(schemas.app, name="schemas")
app.add_typer(policy.app, name="policy")
app.add_typer(dlq.app, name="dlq")
app.add_typer(audit.app, name="audit")
app.command(name="trace")(audit.trace)
app.add_typer(adapters.outbox_app, name="outbox")
app.command(name="load")(adapters.load_file)
app.add_typer(gateway.gateway_app, name="gateway")
app.add_typer(gateway.keys_app, name="keys")
app.add_typer(gateway.acl_app, name="acl")
app.command(name="reconcile")(reconcile.reconcile)
app.add_typer(health.app, name="health")
app.add_typer(config.app, name="config")
app.add_typer(indexes.index_app, name="index")
app.add_typer(indexes.disclosures_app, name="disclosures")
app.add_typer(indexes.corrections_app, name="corrections")
app.add_typer(indexes.licences_app, name="licences")
app.add_typer(federation.app, name="federation")

# Local-run tooling (`govbus dev ...`, `govbus demo`) is a separate distribution, installed in a
# dev checkout and never in the production wheel or image: it adds its commands here.
for _plugin in entry_points(group="govbus.cli"):
    _plugin.load()(app)


def run() -> None:
    """Console-script entry: user-fixable problems print one clear line, not a traceback."""
    try:
        app()
    except GovbusError as exc:
        Console(stderr=True).print(f"[red]error:[/] {exc}")
        sys.exit(2)


if __name__ == "__main__":
    run()

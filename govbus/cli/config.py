"""``govbus config``: the settings reference and a check of the environment."""

from __future__ import annotations

import os

import typer

from govbus.settings_reference import reference_markdown, unknown_in_environment

app = typer.Typer(help="Settings: reference and checks.", no_args_is_help=True)


@app.command()
def docs() -> None:
    """Print the reference of every GOVBUS_* variable (Markdown)."""
    typer.echo(reference_markdown(), nl=False)


@app.command()
def check() -> None:
    """Exit 1 if the environment has GOVBUS_* variables that no setting reads (misspelt)."""
    wrong = unknown_in_environment(os.environ)
    for name in wrong:
        typer.echo(f"unknown setting: {name}", err=True)
    if wrong:
        raise typer.Exit(1)
    typer.echo("all GOVBUS_* variables are known settings")

"""The local-run commands (``govbus dev ...``, ``govbus demo``), added to the ``govbus`` CLI
through the ``govbus.cli`` entry point when this package is installed (a dev checkout)."""

from __future__ import annotations

import typer

from govbus_devtools.cli import demo, dev


def register(app: typer.Typer) -> None:
    app.add_typer(dev.app, name="dev")
    app.command(name="demo")(demo.demo)

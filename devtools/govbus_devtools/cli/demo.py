"""``govbus demo``: the seed scenarios end to end on the local runtime."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from govbus import telemetry
from govbus.config import ConnectionSettings, GatewaySettings, load
from govbus.gateway.keystore import KeyStore
from govbus_devtools.demo.render import console_group, html_report
from govbus_devtools.demo.run import run_demo

console = Console()
err_console = Console(stderr=True)


def demo(
    json_out: Annotated[
        Path | None,
        typer.Option("--json", help="Also write the report as JSON to this file ('-': stdout)."),
    ] = None,
    html_out: Annotated[
        Path | None,
        typer.Option("--html", help="Also write an HTML report with a flow picture."),
    ] = None,
    timeout: Annotated[
        float, typer.Option(help="Seconds to wait for the bus at each stage.", min=5)
    ] = 90.0,
) -> None:
    """Run the seed scenarios: newborn, after death (with a correction), business start-up and
    an electronic licence issued then revoked.

    Starts the local runtime (Kafka, Redis, PostgreSQL), a stream worker with the demo policy
    and the gateway; departments publish through the real adapters (outbox, SDK, HTTP) and each
    subscribing department reads its deliveries through the gateway with its own key. Also
    tries a read without a grant, a spoofed publisher, a bad check digit over HTTP and one from
    a legacy producer. Exits 1 if anything did not come out as expected.
    """
    telemetry.setup("govbus-demo")
    to_stdout = json_out == Path("-")
    status_console = err_console if to_stdout else console
    with status_console.status("starting...") as status:
        report = run_demo(lambda message: status.update(message + "..."), timeout_s=timeout)
    if to_stdout:
        sys.stdout.write(json.dumps(report.to_dict(), ensure_ascii=False, indent=2) + "\n")
    else:
        console.print(console_group(report))
        if json_out is not None:
            json_out.write_text(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
            console.print(f"JSON report: {json_out}")
    if html_out is not None:
        html_out.write_text(html_report(report), encoding="utf-8")
        status_console.print(f"HTML report: {html_out}")
    status_console.print(console_invitation(), soft_wrap=True)
    if not report.ok:
        raise typer.Exit(1)


# Who to log in to the console as, to see the demo's data: (department, role, what for).
CONSOLE_ROLES = (
    ("data_bureau", "admin", "the bureau: ops, dead letters, traces of the events above"),
    ("health", "admin", "a provider: its inbox of requests for birth and death data"),
    ("public_security", "admin", "a department: request access, grants and deliveries"),
    ("citizen_portal", "citizen_portal", "the citizen portal: disclosure reports"),
)


def console_invitation() -> str:
    """The console's address and a fresh API key per role (kept after the demo)."""
    settings = load(GatewaySettings)
    store = KeyStore(
        load(ConnectionSettings).pg, settings.api_key_pepper.get_secret_value().encode()
    )
    store.init()
    lines = [
        "Console: `govbus gateway run`, then open "
        f"http://{settings.gateway_host}:{settings.gateway_port}/console/ and log in with a key:"
    ]
    for department, role, what in CONSOLE_ROLES:
        lines.append(f"  {store.issue(department, [role])}  {department} {role}: {what}")
    return "\n".join(lines)

"""``govbus policy``: subscriptions as data, in the compacted policy topic."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from govbus import policy_store
from govbus.config import ConnectionSettings, load
from govbus.gateway.policy_writes import PolicyWriter
from govbus.gateway.problems import Problem
from govbus.policy import Subscription, load_policy_file
from govbus.schemas.catalogue import default_catalogue

app = typer.Typer(help="Validate, apply, show and revoke subscriptions.", no_args_is_help=True)
console = Console()
FileArg = Annotated[Path, typer.Argument(help="policy YAML", exists=True, dir_okay=False)]
WaitOpt = Annotated[
    float,
    typer.Option(
        "--wait",
        min=0.1,
        help="seconds to wait for the turn of entries the gateway is changing right now",
    ),
]


def _writer(conn: ConnectionSettings, wait_s: float) -> PolicyWriter:
    """The gateway's per-entry turns (PostgreSQL locks), taken by the operator's writes too."""
    return PolicyWriter(conn.pg, conn.bootstrap, conn.policy_topic, wait_s=wait_s, pool_size=1)


def _refused(problem: Problem) -> typer.Exit:
    console.print(f"[red]{problem.code}[/]: {problem}")
    return typer.Exit(2 if problem.status != 409 else 3)


@app.command()
def validate(file: FileArg) -> None:
    """Check a policy file against the catalogue (fields, masking rules, sharing types)."""
    doc = load_policy_file(file, default_catalogue())
    inbound = f" and {len(doc.inbound)} inbound agreements" if doc.inbound else ""
    console.print(f"[green]✓[/] {len(doc.subscriptions)} subscriptions{inbound} are valid")


@app.command()
def apply(
    file: FileArg,
    prune: Annotated[bool, typer.Option(help="delete subscriptions not in the file")] = False,
    wait_s: WaitOpt = 15.0,
) -> None:
    """Validate, then write every subscription and inbound agreement of FILE to the policy
    topic; workers pick the change up within seconds. Each entry is written in its turn
    (never inside a gateway admin's change of it); exit 3 if a turn did not come."""
    conn = load(ConnectionSettings)
    doc = load_policy_file(file, default_catalogue())
    deletions: list[str] = []
    if prune:
        keep = {policy_store.entry_key(e) for e in policy_store.entries(doc)}
        current = policy_store.read(conn.bootstrap, conn.policy_topic)
        deletions = [
            key
            for key in map(policy_store.entry_key, policy_store.entries(current))
            if key not in keep
        ]
    writer = _writer(conn, wait_s)
    try:
        written = writer.overwrite(list(policy_store.entries(doc)), deletions)
    except Problem as problem:
        raise _refused(problem) from None
    finally:
        writer.close()
    console.print(f"applied {written} records to {conn.policy_topic} ({len(deletions)} deletions)")


@app.command()
def show(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The subscriptions in force, as the workers see them."""
    conn = load(ConnectionSettings)
    doc = policy_store.read(conn.bootstrap, conn.policy_topic)
    if as_json:
        typer.echo(doc.model_dump_json(indent=2, by_alias=True, exclude_none=True))
        return
    table = Table("id", "subscriber", "event types", "fields", "status", "expires", "purpose")
    for s in doc.subscriptions:
        table.add_row(
            s.id,
            s.subscriber,
            ", ".join(s.event_types),
            str(len(s.fields)),
            s.status,
            str(s.expires or ""),
            s.purpose,
        )
    console.print(table)
    if doc.inbound:
        inbound = Table("accepted from peer", "peer's subscription", "event types", "fields")
        for a in doc.inbound:
            rules = ", ".join(f"{k}={v}" for k, v in a.subscription.fields.items())
            inbound.add_row(a.peer, a.subscription.id, ", ".join(a.subscription.event_types), rules)
        console.print(inbound)


@app.command()
def revoke(
    subscription_id: Annotated[str, typer.Argument(help="subscription id")],
    reason: Annotated[str, typer.Option(help="why (recorded)")],
    wait_s: WaitOpt = 15.0,
) -> None:
    """Revoke a subscription: no event processed after the workers see it is delivered.
    Taken in the subscription's turn, so an approval in flight cannot overwrite it."""
    conn = load(ConnectionSettings)

    def revoke_current(current: Subscription | None) -> Subscription:
        if current is None:
            raise Problem(404, "not-found", f"no subscription {subscription_id}")
        return policy_store.revoked(current, reason)

    writer = _writer(conn, wait_s)
    try:
        writer.update(subscription_id, Subscription, revoke_current)
    except Problem as problem:
        raise _refused(problem) from None
    finally:
        writer.close()
    console.print(f"revoked {subscription_id}")

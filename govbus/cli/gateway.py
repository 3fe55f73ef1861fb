"""``govbus gateway`` and ``govbus keys``: the HTTP door, and its API keys."""

from __future__ import annotations

import logging
from typing import Annotated

import typer
from rich.console import Console

from govbus import telemetry
from govbus.cli.output import JsonOption, emit
from govbus.config import (
    DEV_ONLY_SECRET,
    ConnectionSettings,
    GatewaySettings,
    KeySettings,
    LocalRuntimeSettings,
    load,
)
from govbus.gateway.keystore import KeyStore
from govbus.kafka_config import client_config
from govbus.logs import setup_logging, warn_unknown_settings

gateway_app = typer.Typer(help="Run the HTTP gateway.", no_args_is_help=True)
keys_app = typer.Typer(help="Issue, list and revoke department API keys.", no_args_is_help=True)
console = Console()


def _store() -> KeyStore:
    store = KeyStore(
        load(ConnectionSettings).pg,
        load(GatewaySettings).api_key_pepper.get_secret_value().encode(),
    )
    store.init()
    return store


@gateway_app.command()
def run() -> None:
    """Serve the gateway (GOVBUS_GATEWAY_HOST / GOVBUS_GATEWAY_PORT)."""
    import uvicorn  # noqa: PLC0415

    from govbus.gateway.app import create_app  # noqa: PLC0415

    setup_logging()
    warn_unknown_settings()
    telemetry.setup("govbus-gateway")
    settings = load(GatewaySettings)
    load(KeySettings).require_real("the gateway")
    if settings.api_key_pepper.get_secret_value() == DEV_ONLY_SECRET:
        logging.getLogger("govbus.gateway").warning(
            "using the built-in development API key pepper; set GOVBUS_API_KEY_PEPPER "
            "outside local runs"
        )
    uvicorn.run(
        create_app(settings=settings),
        host=settings.gateway_host,
        port=settings.gateway_port,
        log_config=None,
        proxy_headers=True,
    )


@keys_app.command()
def issue(
    department: Annotated[str, typer.Option(help="department id, e.g. public_security")],
    role: Annotated[
        list[str], typer.Option(help="subscriber, publisher, admin, auditor, citizen_portal")
    ],
) -> None:
    """Issue a key; it is shown once (only its hash is stored). The operator's bootstrap
    path (direct database access): the first admin keys of the bureau and of each
    department come from here; from then on admins issue keys through the gateway, within
    their powers (docs/security.md)."""
    typer.echo(_store().issue(department, role))  # plain: never wrapped or styled


@keys_app.command()
def revoke(key_id: Annotated[str, typer.Argument(help="the id part of gbk_<id>_...")]) -> None:
    """Revoke a key at once."""
    console.print("revoked" if _store().revoke(key_id) else "no such active key")


@keys_app.command("list")
def list_(as_json: JsonOption = False) -> None:
    """Keys by id, department, roles and state (never the secrets)."""
    rows = [
        {
            "key id": key_id,
            "department": department,
            "roles": list(roles) if as_json else ",".join(roles),
            "created": created.isoformat() if as_json else str(created)[:19],
            "revoked": (revoked.isoformat() if as_json else str(revoked)[:19]) if revoked else None,
        }
        for key_id, department, roles, created, revoked in _store().all_keys()
    ]
    emit(console, ["key id", "department", "roles", "created", "revoked"], rows, as_json=as_json)


acl_app = typer.Typer(
    help="Kafka-native access: SCRAM users and ACLs from the policy.", no_args_is_help=True
)


@acl_app.command("sync")
def acl_sync() -> None:
    """Grant each department with a live subscription READ on its own delivery topic, its
    consumer-group prefix and govbus.schemas, and each publisher WRITE on the event topics
    of the types it owns; remove every other grant on govbus's topics and groups."""
    from confluent_kafka.admin import AdminClient  # noqa: PLC0415

    from govbus import policy_store  # noqa: PLC0415
    from govbus.gateway.kafka_acl import sync  # noqa: PLC0415
    from govbus.schemas.catalogue import default_catalogue  # noqa: PLC0415

    conn = load(ConnectionSettings)
    report = sync(
        AdminClient(client_config(conn.bootstrap)),
        policy_store.read(conn.bootstrap, conn.policy_topic),
        default_catalogue(),
    )
    console.print(f"granted: {', '.join(report.granted) or '-'}")
    console.print(f"publishers: {', '.join(report.publishers) or '-'}")
    console.print(f"revoked: {', '.join(report.revoked) or '-'}")


@acl_app.command("follow")
def acl_follow(
    resync_s: Annotated[float, typer.Option(help="sync at least this often")] = 30.0,
) -> None:
    """Keep the ACLs in step with the policy topic: a revoked or expired subscription
    takes its department's Kafka-native access with it within seconds. Run one copy."""
    from confluent_kafka.admin import AdminClient  # noqa: PLC0415

    from govbus.gateway.acl_follow import AclFollower  # noqa: PLC0415
    from govbus.heartbeat import heartbeat_file  # noqa: PLC0415
    from govbus.schemas.catalogue import default_catalogue  # noqa: PLC0415

    setup_logging()
    conn = load(ConnectionSettings)
    follower = AclFollower(
        conn.bootstrap,
        conn.policy_topic,
        AdminClient(client_config(conn.bootstrap)),
        default_catalogue(),
        resync_s=resync_s,
    )
    try:
        follower.run(heartbeat_file(load(LocalRuntimeSettings).state_dir, "acl-follower"))
    finally:
        follower.close()


@acl_app.command("user")
def acl_user(department: Annotated[str, typer.Argument(help="department id")]) -> None:
    """Create or rotate the department's SCRAM-SHA-512 user; prints the password once."""
    from confluent_kafka.admin import AdminClient  # noqa: PLC0415

    from govbus.gateway.kafka_acl import set_password  # noqa: PLC0415

    conn = load(ConnectionSettings)
    console.print(set_password(AdminClient(client_config(conn.bootstrap)), department))

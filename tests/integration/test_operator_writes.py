"""The operator's direct policy writes (`govbus policy apply` and `revoke`) take the same
per-entry turns as the gateway's admin writes, against the real Kafka and PostgreSQL: a
revoke issued while a provider's approval is half-way through its read-change-write is
applied after it, never overwritten by it."""

from __future__ import annotations

import threading
from pathlib import Path

import psycopg
import pytest
import yaml
from typer.testing import CliRunner

from govbus import policy_store
from govbus.cli.main import app
from govbus.config import ConnectionSettings
from govbus.gateway.policy_writes import LOCK_CLASS, PolicyWriter, lock_id
from govbus.policy import Subscription
from tests.integration.test_kafka_acl import subscription


@pytest.fixture
def conn(runtime: ConnectionSettings, uid: str) -> ConnectionSettings:
    return runtime.model_copy(update={"policy_topic": f"govbus.policy.test-{uid}"})


def cli(conn: ConnectionSettings, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={"GOVBUS_POLICY_TOPIC": conn.policy_topic})
    return result.exit_code, result.output


def stored(conn: ConnectionSettings, sub_id: str) -> Subscription:
    subs = policy_store.read(conn.bootstrap, conn.policy_topic).subscriptions
    return next(s for s in subs if s.id == sub_id)


def test_a_revoke_waits_for_an_approval_in_flight_and_wins(
    conn: ConnectionSettings, uid: str
) -> None:
    sub = Subscription.model_validate(subscription(f"op_{uid}", status="pending"))
    policy_store.write(conn.bootstrap, conn.policy_topic, [sub])
    writer = PolicyWriter(conn.pg, conn.bootstrap, conn.policy_topic, wait_s=60)
    has_read = threading.Event()
    go_on = threading.Event()

    def approve(current: Subscription | None) -> Subscription:
        assert current is not None
        has_read.set()  # the gateway has read 'pending' under its lock...
        go_on.wait(60)  # ...and is slow to write its approval
        return current.model_copy(update={"status": "active"})

    approval = threading.Thread(target=writer.update, args=(sub.id, Subscription, approve))
    approval.start()
    try:
        assert has_read.wait(60)
        revoking: list[tuple[int, str]] = []
        revoke = threading.Thread(
            target=lambda: revoking.append(
                cli(conn, "policy", "revoke", sub.id, "--reason", "court order", "--wait", "60")
            )
        )
        revoke.start()
        revoke.join(3)
        assert revoke.is_alive()  # it waits for its turn instead of writing now
        assert stored(conn, sub.id).status == "pending"
    finally:
        go_on.set()
        approval.join(60)
        writer.close()
    revoke.join(60)
    assert revoking[0][0] == 0, revoking[0][1]
    assert stored(conn, sub.id).status == "revoked"  # after the approval, not under it


def test_an_operator_write_that_gets_no_turn_is_refused_and_writes_nothing(
    conn: ConnectionSettings, uid: str, tmp_path: Path
) -> None:
    sub = Subscription.model_validate(subscription(f"op_{uid}"))
    policy_store.write(conn.bootstrap, conn.policy_topic, [sub])
    changed = {**subscription(f"op_{uid}"), "purpose": "something else"}
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(yaml.safe_dump({"subscriptions": [changed]}))
    with psycopg.connect(conn.pg, autocommit=True) as held:
        held.execute("SELECT pg_advisory_lock(%s, %s)", (LOCK_CLASS, lock_id(sub.id)))
        code, out = cli(conn, "policy", "apply", str(policy_file), "--wait", "0.5")
        assert code == 3, out
        assert "write-conflict" in out
        code, out = cli(conn, "policy", "revoke", sub.id, "--reason", "x", "--wait", "0.5")
        assert code == 3, out
        assert stored(conn, sub.id) == sub
    code, out = cli(conn, "policy", "apply", str(policy_file))
    assert code == 0, out
    assert stored(conn, sub.id).purpose == "something else"


def test_revoking_an_unknown_subscription_is_a_clear_error(conn: ConnectionSettings) -> None:
    code, out = cli(conn, "policy", "revoke", "no-such-sub", "--reason", "x")
    assert code == 2
    assert "no subscription no-such-sub" in out

"""Kafka-native access: the broker (SASL/SCRAM + StandardAuthorizer) lets a department's own
confluent-kafka consumer read its delivery topic and nothing else; revocation removes it,
within seconds once the ACL follower runs."""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
from typing import Any

import httpx
from confluent_kafka import KafkaError, Producer
from confluent_kafka.admin import AdminClient

from govbus import policy_store
from govbus.adapters.publisher import Publisher
from govbus.config import ConnectionSettings, GatewaySettings, LocalRuntimeSettings
from govbus.gateway.acl_follow import AclFollower
from govbus.gateway.kafka_acl import read_as as read_as_on
from govbus.gateway.kafka_acl import set_password, sync, write_as
from govbus.gateway.keystore import KeyStore
from govbus.kafka_admin import ensure_topics
from govbus.policy import Subscription, parse_policy
from govbus.schemas.catalogue import Catalogue, default_catalogue
from govbus.schemas.topics import delivery_topic
from govbus_devtools.demo.sample_data import credit_code
from tests.integration.helpers import APPROVAL, wait_until
from tests.integration.test_gateway import Gateway

EVENTS = "govbus.events.health.birth_registered.v2"


def sasl() -> str:
    return f"127.0.0.1:{LocalRuntimeSettings().kafka_sasl_port}"


def read_as(user: str, password: str, topic: str, timeout_s: float = 20) -> tuple[str, Any]:
    return read_as_on(sasl(), user, password, topic, timeout_s)


def owned_by(owner: str) -> Catalogue:
    """The shipped catalogue plus an event type of ``owner``'s (a department that joins)."""
    template = default_catalogue().get("gov.tax.tax_registered", 1)
    assert template is not None
    schema = dict(template.schema)
    schema.update({"govbus.type": f"gov.{owner}.thing_recorded", "govbus.owner": owner})
    return Catalogue([*default_catalogue(), *Catalogue.from_schemas([("new", schema)])])


def subscription(dept: str, status: str = "active") -> dict[str, Any]:
    return {
        "id": f"{dept}-sub",
        "subscriber": dept,
        "event_types": ["gov.health.birth_registered"],
        "fields": {"certificate_no": "clear"},
        "legal_basis": "law",
        "purpose": "register",
        "approval": APPROVAL,
        "status": status,
    }


def test_a_department_reads_only_its_own_delivery_topic(
    runtime: ConnectionSettings, bootstrap: str, uid: str
) -> None:
    a, b = f"aa_{uid}", f"bb_{uid}"
    ensure_topics(
        bootstrap, {delivery_topic(a): {}, delivery_topic(b): {}}, partitions=1, replication=1
    )
    producer = Producer({"bootstrap.servers": bootstrap})
    for dept in (a, b):
        producer.produce(delivery_topic(dept), f"for {dept}".encode())
    assert producer.flush(30) == 0
    admin = AdminClient({"bootstrap.servers": bootstrap})
    password_a = set_password(admin, a)
    set_password(admin, b)
    catalogue = default_catalogue()
    report = sync(
        admin, parse_policy({"subscriptions": [subscription(a), subscription(b)]}), catalogue
    )
    assert {a, b} <= set(report.granted)

    status, messages = read_as(a, password_a, delivery_topic(a))
    assert status == "ok"
    assert messages == [f"for {a}".encode()]
    assert read_as(a, password_a, delivery_topic(b)) == (
        "denied",
        KafkaError.TOPIC_AUTHORIZATION_FAILED,
    )
    assert read_as(a, password_a, EVENTS) == ("denied", KafkaError.TOPIC_AUTHORIZATION_FAILED)
    assert read_as(a, "not-the-password", delivery_topic(a))[0] == "denied"

    revoked = sync(
        admin,
        parse_policy({"subscriptions": [subscription(a, "revoked"), subscription(b)]}),
        catalogue,
    )
    assert a in revoked.revoked
    time.sleep(1)
    status, code = read_as(a, password_a, delivery_topic(a))
    assert status == "denied"  # its group or its topic: the authorizer refuses either way
    assert code in (KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.GROUP_AUTHORIZATION_FAILED)


def test_kafka_access_follows_a_revocation_made_through_the_gateway_within_seconds(
    runtime: ConnectionSettings, bootstrap: str, uid: str, worker_env: dict[str, str]
) -> None:
    """No one runs `govbus acl sync`: the follower sees the gateway's revocation on the
    policy topic and the department's own Kafka consumer is refused within seconds."""
    dept = f"aa_{uid}"
    policy_topic = worker_env["GOVBUS_POLICY_TOPIC"]
    ensure_topics(bootstrap, {delivery_topic(dept): {}}, partitions=1, replication=1)
    producer = Producer({"bootstrap.servers": bootstrap})
    producer.produce(delivery_topic(dept), b"for the department")
    assert producer.flush(30) == 0
    admin = AdminClient({"bootstrap.servers": bootstrap})
    password = set_password(admin, dept)
    policy_store.write(bootstrap, policy_topic, [Subscription.model_validate(subscription(dept))])
    follower = AclFollower(bootstrap, policy_topic, admin, default_catalogue(), resync_s=60)
    assert dept in follower.start().granted
    thread = threading.Thread(target=follower.run, daemon=True)
    thread.start()
    keys = KeyStore(runtime.pg, GatewaySettings().api_key_pepper.get_secret_value().encode())
    try:
        assert read_as(dept, password, delivery_topic(dept))[0] == "ok"
        conn = runtime.model_copy(update={"policy_topic": policy_topic})
        with Gateway(conn, GatewaySettings(rate_limit_per_minute=10_000)) as gw:
            r = httpx.post(
                f"{gw.url}/v1/admin/subscriptions/{dept}-sub/revoke",
                json={"reason": "purpose fulfilled"},
                headers={"X-API-Key": keys.issue(dept, ["admin"])},
                timeout=30,
            )
            assert r.status_code == 200, r.text
        revoked_at = time.monotonic()
        assert wait_until(
            lambda: read_as(dept, password, delivery_topic(dept), timeout_s=3)[0] == "denied",
            30,
        )
        took = time.monotonic() - revoked_at
        assert took < 10, took
    finally:
        follower.stop.set()
        thread.join(timeout=10)
        follower.close()


def test_a_publisher_writes_exactly_the_event_topics_it_owns(
    runtime: ConnectionSettings, bootstrap: str, uid: str
) -> None:
    """Its own SCRAM producer (the publisher SDK) may write its event topic; the broker
    refuses it another department's event topic and every delivery topic; a type that
    changes hands takes its old owner's write access with it at the next sync."""
    dept, other = f"pp_{uid}", f"qq_{uid}"
    catalogue = owned_by(dept)
    own = catalogue.get(f"gov.{dept}.thing_recorded")
    assert own is not None
    ensure_topics(
        bootstrap, {own.topic: {}, delivery_topic(other): {}}, partitions=1, replication=1
    )
    admin = AdminClient({"bootstrap.servers": bootstrap})
    password = set_password(admin, dept)
    report = sync(admin, parse_policy({"subscriptions": [subscription(other)]}), catalogue)
    assert dept in report.publishers
    assert "health" in report.publishers

    conn = ConnectionSettings(
        kafka_bootstrap=sasl(),
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_username=dept,
        kafka_sasl_password=password,  # type: ignore[arg-type]
    )
    data = {
        "credit_code": credit_code(random.Random(uid), "350100"),
        "tax_authority": "Fuzhou",
        "taxpayer_type": "GENERAL",
        "registered_on": dt.date(2026, 1, 2),
    }
    with Publisher(dept, catalogue=catalogue, conn=conn) as pub:
        sent = pub.publish(own.type, data).result(timeout=60)
    assert sent.topic == own.topic

    assert write_as(sasl(), dept, password, own.topic)[0] == "ok"
    refused = ("denied", KafkaError.TOPIC_AUTHORIZATION_FAILED)
    assert write_as(sasl(), dept, password, EVENTS) == refused
    assert write_as(sasl(), dept, password, delivery_topic(other)) == refused
    assert write_as(sasl(), dept, password, delivery_topic(dept)) == refused
    assert read_as(dept, password, own.topic)[0] == "denied"  # writing is not reading

    handed_over = sync(
        admin, parse_policy({"subscriptions": [subscription(other)]}), default_catalogue()
    )
    assert dept in handed_over.revoked
    assert dept not in handed_over.publishers
    assert wait_until(lambda: write_as(sasl(), dept, password, own.topic, 5) == refused, 30)

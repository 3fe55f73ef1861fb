"""Kafka-native access: the broker (SASL/SCRAM + StandardAuthorizer) lets a department's own
confluent-kafka consumer read its delivery topic and nothing else; revocation removes it."""

from __future__ import annotations

import time
from typing import Any

from confluent_kafka import KafkaError, Producer
from confluent_kafka.admin import AdminClient

from govbus.config import ConnectionSettings, LocalRuntimeSettings
from govbus.gateway.kafka_acl import read_as as read_as_on
from govbus.gateway.kafka_acl import set_password, sync
from govbus.kafka_admin import ensure_topics
from govbus.policy import parse_policy
from govbus.schemas.catalogue import default_catalogue
from govbus.schemas.topics import delivery_topic
from tests.integration.helpers import APPROVAL

EVENTS = "govbus.events.health.birth_registered.v2"


def read_as(user: str, password: str, topic: str, timeout_s: float = 20) -> tuple[str, Any]:
    return read_as_on(
        f"127.0.0.1:{LocalRuntimeSettings().kafka_sasl_port}", user, password, topic, timeout_s
    )


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

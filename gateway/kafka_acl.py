"""Kafka-native access for departments: a SCRAM user per department and ACLs derived from
the policy -- READ on its own delivery topic, on consumer groups with its prefix, and on
govbus.schemas (to decode what it received). Nothing else. A department without a live
subscription loses its ACLs at the next sync."""

from __future__ import annotations

import datetime as dt
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

# The admin package defines these in submodules without re-exporting them explicitly.
from confluent_kafka import Consumer, KafkaError
from confluent_kafka.admin import AdminClient
from confluent_kafka.admin._acl import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
)
from confluent_kafka.admin._resource import ResourcePatternType, ResourceType
from confluent_kafka.admin._scram import (
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialUpsertion,
)

from govbus.policy import PolicyDocument
from govbus.schemas.catalogue import Catalogue
from govbus.schemas.topics import DELIVER_PREFIX, SCHEMAS, check_party_id, delivery_topic

SCRAM_ITERATIONS = 8192


@dataclass
class SyncReport:
    granted: list[str] = field(default_factory=list)
    revoked: list[str] = field(default_factory=list)


def live_subscribers(doc: PolicyDocument, catalogue: Catalogue, now: dt.datetime) -> set[str]:
    from govbus.policy import is_live  # noqa: PLC0415 - keeps this module's imports light

    live = set()
    for sub in doc.subscriptions:
        for type_name in sub.event_types:
            event = catalogue.latest(type_name)
            if event is not None and is_live(sub, event, now):
                live.add(sub.subscriber)
    return live


def bindings(department: str) -> list[AclBinding]:
    """What a department may do on the broker, and nothing more."""
    principal = f"User:{check_party_id(department)}"
    topic = delivery_topic(department)
    grants = [
        (ResourceType.TOPIC, topic, ResourcePatternType.LITERAL, AclOperation.READ),
        (ResourceType.TOPIC, topic, ResourcePatternType.LITERAL, AclOperation.DESCRIBE),
        (ResourceType.TOPIC, SCHEMAS, ResourcePatternType.LITERAL, AclOperation.READ),
        (ResourceType.TOPIC, SCHEMAS, ResourcePatternType.LITERAL, AclOperation.DESCRIBE),
        (ResourceType.GROUP, f"{department}.", ResourcePatternType.PREFIXED, AclOperation.READ),
    ]
    return [
        AclBinding(restype, name, pattern, principal, "*", operation, AclPermissionType.ALLOW)
        for restype, name, pattern, operation in grants
    ]


def set_password(admin: AdminClient, department: str, password: str | None = None) -> str:
    """Create or rotate the department's SCRAM-SHA-512 user; returns the password (shown once)."""
    password = password or secrets.token_urlsafe(24)
    upsert = UserScramCredentialUpsertion(
        check_party_id(department),
        ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, SCRAM_ITERATIONS),
        password.encode(),
    )
    for future in admin.alter_user_scram_credentials([upsert]).values():
        future.result(timeout=30)
    return password


def sync(
    admin: AdminClient, doc: PolicyDocument, catalogue: Catalogue, now: dt.datetime | None = None
) -> SyncReport:
    report = SyncReport()
    live = live_subscribers(doc, catalogue, now or dt.datetime.now(dt.UTC))
    wanted = [b for dept in sorted(live) for b in bindings(dept)]
    if wanted:
        for future in admin.create_acls(wanted).values():
            future.result(timeout=30)
    report.granted = sorted(live)
    any_: Any = None  # librdkafka's "any"; the stubs type these arguments as plain str
    match_all = AclBindingFilter(
        ResourceType.ANY,
        any_,
        ResourcePatternType.ANY,
        any_,
        any_,
        AclOperation.ANY,
        AclPermissionType.ANY,
    )
    existing = admin.describe_acls(match_all).result(timeout=30)
    stale = [
        b
        for b in existing
        if b.principal.startswith("User:")
        and b.principal[5:] not in live
        and (
            b.name.startswith(DELIVER_PREFIX)
            or b.name == SCHEMAS
            or b.restype == ResourceType.GROUP
        )
    ]
    if stale:
        filters = [
            AclBindingFilter(
                b.restype,
                b.name,
                b.resource_pattern_type,
                b.principal,
                b.host,
                b.operation,
                b.permission_type,
            )
            for b in stale
        ]
        for future in admin.delete_acls(filters).values():
            future.result(timeout=30)
    report.revoked = sorted({b.principal[5:] for b in stale})
    return report


def read_as(
    sasl_bootstrap: str, user: str, password: str, topic: str, timeout_s: float = 20
) -> tuple[str, Any]:
    """Try reading ``topic`` as a department's own SASL/SCRAM consumer would: ('ok', values),
    ('denied', error code) or ('timeout', None). Used by the demo and the tests."""
    client_errors: list[KafkaError] = []  # authentication failures arrive via error_cb
    consumer = Consumer(
        {
            "error_cb": client_errors.append,
            "bootstrap.servers": sasl_bootstrap,
            "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanisms": "SCRAM-SHA-512",
            "sasl.username": user,
            "sasl.password": password,
            "group.id": f"{user}.t-{uuid.uuid4().hex[:6]}",
            "auto.offset.reset": "earliest",
            "log_level": 0,
        }
    )
    got: list[bytes] = []
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            for err in client_errors:
                if err.code() in (
                    KafkaError._AUTHENTICATION,
                    KafkaError.SASL_AUTHENTICATION_FAILED,
                ):
                    return "denied", err.code()
            if msg is None:
                if got:
                    return "ok", got
                continue
            failure = msg.error()
            if failure is not None:
                if failure.code() in (
                    KafkaError.TOPIC_AUTHORIZATION_FAILED,
                    KafkaError.GROUP_AUTHORIZATION_FAILED,
                    KafkaError._AUTHENTICATION,
                    KafkaError.SASL_AUTHENTICATION_FAILED,
                ):
                    return "denied", failure.code()
                continue
            got.append(msg.value() or b"")
        return ("ok", got) if got else ("timeout", None)
    finally:
        consumer.close()

"""Kafka-native access for departments: a SCRAM user per department and ACLs derived from
the policy and the catalogue. A subscriber gets READ on its own delivery topic, on consumer
groups with its prefix, and on govbus.schemas (to decode what it received); a publisher
(the owner of an event type in the catalogue) gets WRITE on the event topics of the types it
owns, so its own systems can produce with the publisher SDK. Nothing else: a sync removes
every other grant govbus manages (a department without a live subscription loses its read
access, a type that changed hands its old owner's write access).

The SDK's producer is idempotent but not transactional: Kafka (3.0+) lets WRITE on a topic
imply idempotent writes (KIP-679), so no cluster-wide grant and no transactional id is
needed."""

from __future__ import annotations

import datetime as dt
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

# The admin package defines these in submodules without re-exporting them explicitly.
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
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
from govbus.schemas.topics import (
    DELIVER_PREFIX,
    EVENTS_PREFIX,
    SCHEMAS,
    check_party_id,
    delivery_topic,
)

SCRAM_ITERATIONS = 8192


@dataclass
class SyncReport:
    granted: list[str] = field(default_factory=list)  # subscribers with read access
    revoked: list[str] = field(default_factory=list)  # departments that lost a grant
    publishers: list[str] = field(default_factory=list)  # departments with write access


def live_subscribers(doc: PolicyDocument, catalogue: Catalogue, now: dt.datetime) -> set[str]:
    from govbus.policy import is_live  # noqa: PLC0415 - keeps this module's imports light

    live = set()
    for sub in doc.subscriptions:
        for type_name in sub.event_types:
            event = catalogue.latest(type_name)
            if event is not None and is_live(sub, event, now):
                live.add(sub.subscriber)
    return live


def _allow(principal: str, grants: list[tuple[Any, str, Any, Any]]) -> list[AclBinding]:
    return [
        AclBinding(restype, name, pattern, principal, "*", operation, AclPermissionType.ALLOW)
        for restype, name, pattern, operation in grants
    ]


def bindings(department: str) -> list[AclBinding]:
    """What a subscribing department may do on the broker, and nothing more."""
    principal = f"User:{check_party_id(department)}"
    topic = delivery_topic(department)
    return _allow(
        principal,
        [
            (ResourceType.TOPIC, topic, ResourcePatternType.LITERAL, AclOperation.READ),
            (ResourceType.TOPIC, topic, ResourcePatternType.LITERAL, AclOperation.DESCRIBE),
            (ResourceType.TOPIC, SCHEMAS, ResourcePatternType.LITERAL, AclOperation.READ),
            (ResourceType.TOPIC, SCHEMAS, ResourcePatternType.LITERAL, AclOperation.DESCRIBE),
            (ResourceType.GROUP, f"{department}.", ResourcePatternType.PREFIXED, AclOperation.READ),
        ],
    )


def owned_topics(catalogue: Catalogue) -> dict[str, list[str]]:
    """Publisher department -> the event topics of the types it owns (every version)."""
    owned: dict[str, list[str]] = {}
    for event in catalogue:
        if event.peer is None:  # a peer's types arrive through the bridge, never from a user
            owned.setdefault(event.owner, []).append(event.topic)
    return {owner: sorted(set(names)) for owner, names in sorted(owned.items())}


def publisher_bindings(department: str, topics: list[str]) -> list[AclBinding]:
    """WRITE (and DESCRIBE, for the producer's metadata) on exactly these event topics."""
    principal = f"User:{check_party_id(department)}"
    return _allow(
        principal,
        [
            (ResourceType.TOPIC, topic, ResourcePatternType.LITERAL, operation)
            for topic in topics
            for operation in (AclOperation.WRITE, AclOperation.DESCRIBE)
        ],
    )


def _key(b: AclBinding) -> tuple[Any, ...]:
    return (
        b.restype,
        b.name,
        b.resource_pattern_type,
        b.principal,
        b.host,
        b.operation,
        b.permission_type,
    )


def managed(b: AclBinding) -> bool:
    """A grant of the kind ``sync`` gives, on a resource it manages."""
    return b.principal.startswith("User:") and (
        b.name.startswith((DELIVER_PREFIX, EVENTS_PREFIX))
        or b.name == SCHEMAS
        or b.restype == ResourceType.GROUP
    )


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
    """Make the broker's grants on govbus's resources exactly what the policy and the
    catalogue say: create the missing ones, delete every other one."""
    report = SyncReport()
    live = live_subscribers(doc, catalogue, now or dt.datetime.now(dt.UTC))
    owned = owned_topics(catalogue)
    wanted = [b for dept in sorted(live) for b in bindings(dept)]
    wanted += [b for dept, names in owned.items() for b in publisher_bindings(dept, names)]
    if wanted:
        for future in admin.create_acls(wanted).values():
            future.result(timeout=30)
    report.granted = sorted(live)
    report.publishers = sorted(owned)
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
    keep = {_key(b) for b in wanted}
    stale = [b for b in existing if managed(b) and _key(b) not in keep]
    if stale:
        filters = [AclBindingFilter(*_key(b)) for b in stale]
        for future in admin.delete_acls(filters).values():
            future.result(timeout=30)
    report.revoked = sorted({b.principal[5:] for b in stale})
    return report


def _scram(sasl_bootstrap: str, user: str, password: str) -> dict[str, Any]:
    return {
        "bootstrap.servers": sasl_bootstrap,
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanisms": "SCRAM-SHA-512",
        "sasl.username": user,
        "sasl.password": password,
        "log_level": 0,
    }


def write_as(
    sasl_bootstrap: str, user: str, password: str, topic: str, timeout_s: float = 20
) -> tuple[str, Any]:
    """Try producing one record to ``topic`` as a department's own idempotent SASL/SCRAM
    producer would: ('ok', offset), ('denied', error code) or ('failed', error code)."""
    outcome: list[tuple[str, Any]] = []

    def delivered(err: KafkaError | None, msg: Any) -> None:
        if err is None:
            outcome.append(("ok", msg.offset()))
        elif err.code() in _DENIED:
            outcome.append(("denied", err.code()))
        else:
            outcome.append(("failed", err.code()))

    producer = Producer(
        {
            **_scram(sasl_bootstrap, user, password),
            "enable.idempotence": True,
            "acks": "all",
            "message.timeout.ms": int(timeout_s * 1000),
        }
    )
    try:
        producer.produce(topic, b"probe", on_delivery=delivered)
    except KafkaException as exc:
        return "failed", exc.args[0].code()
    producer.flush(timeout_s + 5)
    return outcome[0] if outcome else ("failed", None)


_DENIED = (
    KafkaError.TOPIC_AUTHORIZATION_FAILED,
    KafkaError.CLUSTER_AUTHORIZATION_FAILED,
    KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
    KafkaError._AUTHENTICATION,
    KafkaError.SASL_AUTHENTICATION_FAILED,
)


def read_as(
    sasl_bootstrap: str, user: str, password: str, topic: str, timeout_s: float = 20
) -> tuple[str, Any]:
    """Try reading ``topic`` as a department's own SASL/SCRAM consumer would: ('ok', values),
    ('denied', error code) or ('timeout', None). Used by the demo and the tests."""
    client_errors: list[KafkaError] = []  # authentication failures arrive via error_cb
    consumer = Consumer(
        {
            **_scram(sasl_bootstrap, user, password),
            "error_cb": client_errors.append,
            "group.id": f"{user}.t-{uuid.uuid4().hex[:6]}",
            "auto.offset.reset": "earliest",
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

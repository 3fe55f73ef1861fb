"""Create the topics govbus uses, with known partition counts and the right cleanup policy."""

from __future__ import annotations

from collections.abc import Iterable

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from govbus.errors import ServiceUnavailableError
from govbus.kafka_config import client_config
from govbus.schemas import topics
from govbus.schemas.catalogue import Catalogue

# Small segments so the cleaner compacts soon: a worker taking tasks over reads the whole
# progress topic, which would otherwise keep every marker of the last week.
COMPACTED = {
    "cleanup.policy": "compact",
    "segment.ms": "600000",
    "min.cleanable.dirty.ratio": "0.2",
}
# The audit trail and the dead letters are kept until someone decides otherwise: the hash
# chains are verified from their first record, and no dead letter may expire unhandled.
KEPT = {"retention.ms": "-1", "retention.bytes": "-1"}


def bus_topics(catalogue: Catalogue, subscribers: Iterable[str]) -> dict[str, dict[str, str]]:
    """Every topic the bus needs -> its config overrides."""
    wanted: dict[str, dict[str, str]] = {e.topic: {} for e in catalogue}
    wanted.update({topics.delivery_topic(s): {} for s in subscribers})
    wanted[topics.DLQ] = KEPT
    wanted[topics.AUDIT] = KEPT
    for compacted in (topics.POLICY, topics.PROGRESS, topics.SCHEMAS):
        wanted[compacted] = COMPACTED
    wanted[topics.TASKS] = {}
    return wanted


def ensure_topics(
    bootstrap: str,
    wanted: dict[str, dict[str, str]],
    *,
    partitions: int,
    replication: int,
    admin_config: dict[str, str] | None = None,
) -> list[str]:
    """Create what is missing; returns the names created. Idempotent."""
    admin = AdminClient(client_config(bootstrap, **(admin_config or {})))
    try:
        existing = set(admin.list_topics(timeout=10).topics)
    except KafkaException as exc:
        raise ServiceUnavailableError(f"cannot list topics at {bootstrap}: {exc}") from None
    # With 3+ replicas, acks=all then means "on at least 2 brokers".
    durability = {"min.insync.replicas": "2"} if replication >= 3 else {}
    missing = [
        NewTopic(
            name,
            num_partitions=1 if cfg is COMPACTED else partitions,
            replication_factor=replication,
            config={**cfg, **durability},
        )
        for name, cfg in wanted.items()
        if name not in existing
    ]
    if not missing:
        return []
    created = []
    for name, future in admin.create_topics(missing, operation_timeout=30).items():
        try:
            future.result()
            created.append(name)
        except KafkaException as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise ServiceUnavailableError(f"cannot create topic {name}: {exc}") from None
    return created

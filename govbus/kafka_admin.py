"""Create the topics govbus uses, with known partition counts and the right cleanup policy.

Every event topic has the same partition count (GOVBUS_EVENT_PARTITIONS): a worker is
assigned the same partition number of every event topic and fences per partition number,
which only holds when the counts are equal. ``ensure_bus_topics`` refuses a cluster where
they are not, rather than let workers run on it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewPartitions, NewTopic

from govbus.config import StreamsSettings, load
from govbus.errors import ConfigError, ServiceUnavailableError
from govbus.kafka_config import client_config
from govbus.schemas import topics
from govbus.schemas.catalogue import Catalogue

# Small segments so the cleaner compacts soon: a worker taking tasks over reads the whole
# progress topic, which would otherwise keep every marker of the last week.
GROWN_VISIBLE_S = 30.0  # added partitions show in a broker's metadata within this
COMPACTED = {
    "cleanup.policy": "compact",
    "segment.ms": "600000",
    "min.cleanable.dirty.ratio": "0.2",
}
# The audit trail and the dead letters are kept until someone decides otherwise: the hash
# chains are verified from their first record, and no dead letter may expire unhandled.
KEPT = {"retention.ms": "-1", "retention.bytes": "-1"}


class EventPartitionsError(ConfigError):
    """Event topics whose partition count differs from GOVBUS_EVENT_PARTITIONS."""


def bus_topics(catalogue: Catalogue, subscribers: Iterable[str]) -> dict[str, dict[str, str]]:
    """Every topic the bus needs -> its config overrides."""
    wanted: dict[str, dict[str, str]] = {t: {} for t in catalogue.event_topics()}
    wanted.update({topics.delivery_topic(s): {} for s in subscribers})
    wanted[topics.DLQ] = KEPT
    wanted[topics.AUDIT] = KEPT
    for compacted in (topics.POLICY, topics.PROGRESS, topics.SCHEMAS):
        wanted[compacted] = COMPACTED
    wanted[topics.TASKS] = {}
    return wanted


def mismatched(counts: Mapping[str, int], wanted: int) -> dict[str, int]:
    """The topics (of ``counts``: topic -> partitions) whose count is not ``wanted``."""
    return {topic: n for topic, n in sorted(counts.items()) if n != wanted}


def mismatch_message(wrong: Mapping[str, int], wanted: int) -> str:
    """What is wrong and how to fix it, for an operator."""
    found = ", ".join(f"{topic} has {n}" for topic, n in wrong.items())
    fixes = []
    if any(n < wanted for n in wrong.values()):
        fixes.append(
            f"`govbus streams init --grow-partitions` adds partitions up to {wanted} (stop the "
            "workers and let them catch up first: a subject's later events may land on a new "
            "partition)"
        )
    larger = sorted({n for n in wrong.values() if n > wanted})
    if larger:
        fixes.append(
            "Kafka cannot remove partitions: set GOVBUS_EVENT_PARTITIONS to "
            f"{' or '.join(map(str, larger))} and grow the others to it"
        )
    return (
        f"every event topic must have GOVBUS_EVENT_PARTITIONS={wanted} partitions (workers "
        f"take the same partition number of each and fence per partition); {found}. "
        + "; ".join(fixes)
    )


def ensure_bus_topics(
    bootstrap: str,
    catalogue: Catalogue,
    subscribers: Iterable[str],
    *,
    settings: StreamsSettings | None = None,
    replication: int | None = None,
    grow: bool = False,
) -> list[str]:
    """Create the bus's topics that are missing (event topics with GOVBUS_EVENT_PARTITIONS,
    the others with GOVBUS_PARTITIONS; replication GOVBUS_REPLICATION_FACTOR unless given)
    and check that every event topic has GOVBUS_EVENT_PARTITIONS partitions. ``grow`` adds
    partitions to event topics that have fewer; otherwise a mismatch raises
    EventPartitionsError. Returns the names created."""
    settings = settings or load(StreamsSettings)
    replicas = replication or settings.replication_factor
    wanted = bus_topics(catalogue, subscribers)
    # The task topic too: a task is one partition number of every event topic.
    events = {*catalogue.event_topics(), topics.TASKS}
    created = ensure_topics(
        bootstrap,
        {t: cfg for t, cfg in wanted.items() if t in events},
        partitions=settings.event_partitions,
        replication=replicas,
    )
    created += ensure_topics(
        bootstrap,
        {t: cfg for t, cfg in wanted.items() if t not in events},
        partitions=settings.partitions,
        replication=replicas,
    )
    target = settings.event_partitions
    wrong = mismatched(partition_counts(bootstrap, events), target)
    if grow and any(n < target for n in wrong.values()):
        grow_partitions(bootstrap, {t: target for t, n in wrong.items() if n < target})
        # The controller has acknowledged; the broker's metadata follows within moments.
        deadline = time.monotonic() + GROWN_VISIBLE_S
        wrong = mismatched(partition_counts(bootstrap, events), target)
        while wrong and time.monotonic() < deadline:
            time.sleep(0.5)
            wrong = mismatched(partition_counts(bootstrap, events), target)
    if wrong:
        raise EventPartitionsError(mismatch_message(wrong, target))
    return created


def partition_counts(bootstrap: str, names: Iterable[str]) -> dict[str, int]:
    """topic -> partition count, for those of ``names`` that exist."""
    admin = AdminClient(client_config(bootstrap))
    try:
        meta = admin.list_topics(timeout=10).topics
    except KafkaException as exc:
        raise ServiceUnavailableError(f"cannot list topics at {bootstrap}: {exc}") from None
    return {name: len(meta[name].partitions) for name in names if name in meta}


def grow_partitions(bootstrap: str, totals: Mapping[str, int]) -> None:
    """Raise each topic's partition count to its total (Kafka only ever adds partitions)."""
    admin = AdminClient(client_config(bootstrap))
    futures = admin.create_partitions(
        [NewPartitions(topic, total) for topic, total in totals.items()], operation_timeout=30
    )
    for topic, future in futures.items():
        try:
            future.result()
        except KafkaException as exc:
            raise ServiceUnavailableError(f"cannot add partitions to {topic}: {exc}") from None


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

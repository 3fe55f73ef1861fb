"""Read a whole (usually compacted) topic to its current end, committed records only."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable, Collection, Iterator
from typing import Any, TypeVar

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from govbus.kafka_config import client_config

_IDLE_POLLS_AT_END = 3
_RETRY_FOR_S = 60.0

_MOVING_LEADER = frozenset(
    {
        KafkaError.NOT_LEADER_FOR_PARTITION,
        KafkaError.LEADER_NOT_AVAILABLE,
        KafkaError.UNKNOWN_TOPIC_OR_PART,
        KafkaError._TRANSPORT,
        KafkaError._TIMED_OUT,
        KafkaError._ALL_BROKERS_DOWN,
    }
)

T = TypeVar("T")


def retrying(call: Callable[[], T], *, for_s: float = _RETRY_FOR_S) -> T:
    """``call()``, again while Kafka answers a retriable error (a leader moving after a
    broker restart answers NOT_LEADER_FOR_PARTITION for a few seconds) and time is left."""
    deadline = time.monotonic() + for_s
    while True:
        try:
            return call()
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            if not isinstance(error, KafkaError) or time.monotonic() > deadline:
                raise
            if not (error.retriable() or error.code() in _MOVING_LEADER):
                raise
            time.sleep(0.5)


def read_to_end(
    bootstrap: str,
    topic: str,
    extra: dict[str, str] | None = None,
    *,
    max_idle_polls: int = 20,
    since: dt.datetime | None = None,
    partitions: Collection[int] | None = None,
) -> Iterator[Any]:
    """Yields every message (no errors) of ``topic`` from the beginning (or ``since``) to its
    end as of now; of every partition, or of ``partitions`` only.

    A transaction's commit marker can sit at the high watermark where no record is, so
    'at the end' is: position >= high watermark, or a few empty polls once past the last
    data record.
    """
    consumer = Consumer(
        {
            **client_config(bootstrap),
            "group.id": f"govbus-reader-{uuid.uuid4()}",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
            "auto.offset.reset": "earliest",
            **(extra or {}),
        }
    )
    try:
        meta = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if meta is None or meta.error is not None:
            return
        wanted = [p for p in meta.partitions if partitions is None or p in partitions]
        ends = retrying(
            lambda: {
                p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                for p in wanted
            }
        )
        if not ends:
            return
        starts = dict.fromkeys(ends, 0)
        if since is not None:  # the first offset at or after that time; none: nothing to read
            stamp = int(since.timestamp() * 1000)
            found = retrying(
                lambda: consumer.offsets_for_times(
                    [TopicPartition(topic, p, stamp) for p in ends], timeout=10
                )
            )
            starts = {
                tp.partition: ends[tp.partition] if tp.offset < 0 else tp.offset for tp in found
            }
        consumer.assign([TopicPartition(topic, p, starts[p]) for p in ends])
        open_parts = {p for p, high in ends.items() if high > starts[p]}
        idle = 0
        while open_parts and idle < max_idle_polls:
            msg = consumer.poll(0.5)
            if msg is None:
                idle += 1
                positions = consumer.position([TopicPartition(topic, p) for p in open_parts])
                for pos in positions:
                    if pos.offset >= ends[pos.partition] or (
                        pos.offset >= ends[pos.partition] - 1 and idle >= _IDLE_POLLS_AT_END
                    ):
                        open_parts.discard(pos.partition)
                continue
            idle = 0
            if msg.error() is not None:
                continue
            yield msg
            if (msg.offset() or 0) + 1 >= ends[msg.partition()]:
                open_parts.discard(msg.partition())
    finally:
        consumer.close()

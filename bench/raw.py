"""The raw ceiling: confluent-kafka producing the bus's real messages (Avro births with their
CloudEvents headers) to a topic with the event topics' partition count, then consuming them
back, on the same broker. Each phase is timed from its first to its last message, over
hundreds of thousands of messages, so client start-up (metadata, connections) is not in it."""

from __future__ import annotations

import time
import uuid
from typing import Any

from confluent_kafka import Consumer, Producer, TopicPartition

from bench.common import sample_messages
from govbus.config import StreamsSettings, load
from govbus.kafka_admin import ensure_topics

DISTINCT = 2000  # distinct messages, cycled: the same sizes and shapes as n distinct ones


def raw_ceiling(bootstrap: str, n: int) -> dict[str, Any]:
    partitions = load(StreamsSettings).event_partitions
    topic = f"bench.raw.{uuid.uuid4().hex[:8]}"
    ensure_topics(bootstrap, {topic: {}}, partitions=partitions, replication=1)
    messages = [(m.key, m.value, m.headers) for m in sample_messages(DISTINCT)]
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,  # as the SDK: idempotent, acks=all, lz4, linger 5 ms
            "acks": "all",
            "linger.ms": 5,
            "compression.type": "lz4",
        }
    )
    producer.list_topics(topic, timeout=10)  # connections and metadata before the clock starts
    started = time.perf_counter()
    for i in range(n):
        key, value, headers = messages[i % DISTINCT]
        while True:
            try:
                producer.produce(topic, value, key, headers=headers)
                break
            except BufferError:
                producer.poll(0.01)
        if i % 1000 == 0:
            producer.poll(0)
    left = producer.flush(120)
    produced = time.perf_counter() - started
    if left:
        raise RuntimeError(f"{left} raw messages not acknowledged")
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-{uuid.uuid4()}",
            "enable.auto.commit": False,
        }
    )
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    got, first = 0, None
    while got < n:
        batch = consumer.consume(10_000, 1.0)
        if batch and first is None:
            first = time.perf_counter()  # the first fetch answered: the consumer is up
        got += sum(1 for m in batch if m.error() is None)
    consumed = time.perf_counter() - (first or time.perf_counter())
    consumer.close()
    payload = sum(len(v) + len(k) + sum(len(a) + len(b) for a, b in h) for k, v, h in messages)
    return {
        "messages": n,
        "bytes_per_message": payload / DISTINCT,
        "produce_per_s": n / produced,
        "consume_per_s": n / consumed,
        "events_per_s": n / (produced + consumed),
    }

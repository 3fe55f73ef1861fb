"""The raw ceiling: confluent-kafka producing the bus's real messages (Avro births with their
CloudEvents headers) to a topic with the event topics' partition count and consuming them,
on the same broker: each alone, then both at once with the consumer in its own process. Each
is timed over hundreds of thousands of messages with client start-up (metadata, connections,
the first fetch) outside the clock; the concurrent flow between 10 % and 90 % of them."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from typing import Any

from confluent_kafka import Consumer, Producer, TopicPartition

from bench.common import STEADY, produce, sample_messages
from govbus.config import StreamsSettings, load
from govbus.kafka_admin import ensure_topics

DISTINCT = 2000  # distinct messages, cycled: the same sizes and shapes as n distinct ones


def raw_ceiling(bootstrap: str, n: int) -> dict[str, Any]:
    """Produce only, consume only, then both at once (the consumer in its own process, as
    a pipeline's two ends would be): the last is the ceiling the bus is compared with."""
    partitions = load(StreamsSettings).event_partitions
    messages = [(m.key, m.value, m.headers) for m in sample_messages(DISTINCT)]
    alone = _topic(bootstrap, partitions)
    produced = _produce(bootstrap, alone, messages, n)
    consumed = _consume(bootstrap, alone, partitions, n)
    together = _topic(bootstrap, partitions)
    reader = subprocess.Popen(
        [sys.executable, "-m", "bench.raw", bootstrap, together, str(partitions), str(n)],
        stdout=subprocess.PIPE,
        text=True,
    )
    if reader.stdout is None or reader.stdout.readline().strip() != "ready":
        raise RuntimeError("the raw consumer did not start")
    _produce(bootstrap, together, messages, n)
    flow = json.loads(reader.stdout.read())
    reader.wait(timeout=60)
    payload = sum(len(v) + len(k) + sum(len(a) + len(b) for a, b in h) for k, v, h in messages)
    return {
        "messages": n,
        "bytes_per_message": payload / DISTINCT,
        "produce_per_s": n / produced,
        "consume_per_s": n / consumed,
        "events_per_s": flow["steady_per_s"],
    }


def _topic(bootstrap: str, partitions: int) -> str:
    topic = f"bench.raw.{uuid.uuid4().hex[:8]}"
    ensure_topics(bootstrap, {topic: {}}, partitions=partitions, replication=1)
    return topic


def _produce(bootstrap: str, topic: str, messages: list[Any], n: int) -> float:
    """Seconds to produce n messages and have them all acknowledged."""
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
        produce(producer, topic, value, key, headers)
        if i % 1000 == 0:
            producer.poll(0)
    left = producer.flush(120)
    if left:
        raise RuntimeError(f"{left} raw messages not acknowledged")
    return time.perf_counter() - started


def _consumer(bootstrap: str, topic: str, partitions: int) -> Consumer:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-{uuid.uuid4()}",
            "enable.auto.commit": False,
        }
    )
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    return consumer


def _consume(bootstrap: str, topic: str, partitions: int, n: int) -> float:
    """Seconds to consume n messages, from the first fetch's answer."""
    consumer = _consumer(bootstrap, topic, partitions)
    got, first = 0, None
    while got < n:
        batch = consumer.consume(10_000, 1.0)
        if batch and first is None:
            first = time.perf_counter()  # the first fetch answered: the consumer is up
        got += sum(1 for m in batch if m.error() is None)
    consumer.close()
    return time.perf_counter() - (first or time.perf_counter())


def follow(bootstrap: str, topic: str, partitions: int, n: int) -> dict[str, float]:
    """The consuming end of the concurrent run: messages per second between 10 % and 90 %
    of n arriving."""
    consumer = _consumer(bootstrap, topic, partitions)
    consumer.consume(1, 0.5)  # connected and fetching before the producer starts
    print("ready", flush=True)
    got, marks = 0, {}
    lo, hi = (int(n * f) for f in STEADY)
    while got < n:
        got += sum(1 for m in consumer.consume(10_000, 1.0) if m.error() is None)
        for mark in (lo, hi):
            if got >= mark and mark not in marks:
                marks[mark] = time.perf_counter()
    consumer.close()
    return {"steady_per_s": (hi - lo) / (marks[hi] - marks[lo])}


if __name__ == "__main__":
    print(json.dumps(follow(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))))

"""The floor the bus can reach: a consumer that writes, for each input, the same outputs the
bus writes for a birth with 3 subscriptions (3 deliveries and 4 audit records: accepted + 3
delivered), plus one progress record per input partition and batch, in one Kafka
transaction per batch of 200 with the consumer's offsets, and no logic at all (no decoding,
validation, dedupe, routing, masking, hashing or tracing). It runs as its own process so its
CPU is measured like the worker's.

    python -m bench.null_pipeline --bootstrap B --input T --uid U   (started by the bench)
"""

from __future__ import annotations

import argparse
import datetime as dt
import signal
import subprocess
import sys
import uuid
from dataclasses import replace
from typing import Any

from confluent_kafka import Consumer, Producer

from bench.common import (
    MASKED,
    SUBSCRIPTIONS,
    count_arrivals,
    end_positions,
    peak_rss_mb,
    produce,
    sample_messages,
)
from bench.raw import DISTINCT
from govbus.config import StreamsSettings, load
from govbus.kafka_admin import COMPACTED, ensure_topics
from govbus.schemas.audit import AuditRecord

BATCH = 200
AUDIT_PER_INPUT = 1 + SUBSCRIPTIONS  # accepted + one delivered per subscription


def topics(uid: str) -> dict[str, Any]:
    return {
        "input": f"bench.null.in.{uid}",
        "deliveries": [f"bench.null.deliver.{i}.{uid}" for i in range(SUBSCRIPTIONS)],
        "audit": f"bench.null.audit.{uid}",
        "progress": f"bench.null.progress.{uid}",
    }


def audit_values() -> tuple[bytes, bytes]:
    """An accepted and a delivered audit record of realistic size (as the worker writes)."""
    base = AuditRecord(
        kind="accepted",
        at=dt.datetime.now(dt.UTC).isoformat(),
        chain="bench-null|govbus.events.health.birth_registered.v2|0",
        seq=1,
        event_id=str(uuid.uuid4()),
        source="health",
        type="gov.health.birth_registered",
        version=2,
        subject="s1." + "a" * 40,
        trace_id=uuid.uuid4().hex,
        input="govbus.events.health.birth_registered.v2/0/123456",
    ).sealed()
    delivered = replace(
        base,
        kind="delivered",
        subscriber="b0_bench",
        subscription="bench-b0_bench",
        delivery_id=str(uuid.uuid4()),
        fields=dict(MASKED),
        legal_basis="benchmark",
        purpose="measure the bus",
    ).sealed()
    return base.to_json(), delivered.to_json()


def run(bootstrap: str, uid: str) -> None:
    """Consume and write until SIGTERM."""
    names = topics(uid)
    accepted, delivered = audit_values()
    chain_key = b"bench-null|chain"
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-null-{uid}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
    )
    consumer.subscribe([names["input"]])
    producer = Producer(
        {  # as the worker's transactional sink
            "bootstrap.servers": bootstrap,
            "transactional.id": f"bench-null-{uid}",
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            "compression.type": "lz4",
            "transaction.timeout.ms": 60000,
        }
    )
    producer.init_transactions(60)
    stop = False

    def halt(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, halt)

    def out(topic: str, value: bytes, key: bytes | None, headers: Any = None) -> None:
        produce(producer, topic, value, key, headers)

    while not stop:
        batch = [m for m in consumer.consume(BATCH, 0.05) if m.error() is None]
        if not batch:
            continue
        producer.begin_transaction()
        ends: dict[tuple[str, int], int] = {}
        for msg in batch:
            for topic in names["deliveries"]:
                out(topic, msg.value() or b"", msg.key(), msg.headers())
            out(names["audit"], accepted, chain_key)
            for _ in range(SUBSCRIPTIONS):
                out(names["audit"], delivered, chain_key)
            # A consumed record always has its topic, partition and offset.
            ends[(str(msg.topic()), int(msg.partition() or 0))] = int(msg.offset() or 0) + 1
        for (topic, partition), next_offset in ends.items():
            marker = f'{{"next_offset": {next_offset}, "audit_seq": 1, "audit_head": "x"}}'
            out(names["progress"], marker.encode(), f"null|{topic}|{partition}".encode())
        producer.send_offsets_to_transaction(
            consumer.position(consumer.assignment()), consumer.consumer_group_metadata(), 30
        )
        producer.commit_transaction(60)
    consumer.close()


def null_pipeline(bootstrap: str, n: int) -> dict[str, Any]:
    """Prefill an input topic (the event topics' partition count) with n real messages, run
    the null pipeline on it in its own process, and measure its steady state."""
    settings = load(StreamsSettings)
    uid = uuid.uuid4().hex[:8]
    names = topics(uid)
    ensure_topics(
        bootstrap, {names["input"]: {}}, partitions=settings.event_partitions, replication=1
    )
    ensure_topics(
        bootstrap,
        {**{t: {} for t in names["deliveries"]}, names["audit"]: {}, names["progress"]: COMPACTED},
        partitions=settings.partitions,
        replication=1,
    )
    messages = sample_messages(DISTINCT, seed=2)
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "compression.type": "lz4"})
    for i in range(n):
        m = messages[i % DISTINCT]
        produce(producer, names["input"], m.value, m.key, m.headers)
    producer.flush(120)
    probe = Consumer({"bootstrap.servers": bootstrap, "group.id": f"probe-{uid}"})
    starts = {t: end_positions(probe, t) for t in names["deliveries"]}
    probe.close()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.null_pipeline", "--bootstrap", bootstrap, "--uid", uid]
    )
    try:
        progress = count_arrivals(bootstrap, starts, n, proc.pid)
        rss = peak_rss_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    events, seconds, cpu = progress.steady(n)
    return {
        "inputs": n,
        "outputs_per_input": SUBSCRIPTIONS + AUDIT_PER_INPUT,
        "events_per_s": events / seconds,
        "cpu_us_per_event": cpu / events * 1e6,
        "peak_rss_mb": rss,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--uid", required=True)
    args = parser.parse_args()
    run(args.bootstrap, args.uid)


if __name__ == "__main__":
    main()

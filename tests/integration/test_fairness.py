"""Fairness on the real runtime: while one department loads a large batch file (``govbus
load``, which publishes on the bulk lane), another event type published once a second on the
real-time lane still reaches its subscriber's delivery topic within a second (p99).

Latency is publish -> committed on the delivery topic: the delivery's arrival at a
read_committed reader minus the event's ``time`` (set when it was published; one machine,
one clock). Each run ends with an exact reconciliation of everything published during it.

``GOVBUS_FAIRNESS_BULK_LANE=realtime`` loads the file on the real-time lane instead (what
every load did before lanes): the same test then shows the real-time events waiting behind
the load (docs/soak.md has both numbers).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import random
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition

from govbus.adapters.publisher import Publisher
from govbus.schemas.envelope import Envelope
from govbus.schemas.jsonvalues import to_json
from govbus.schemas.topics import delivery_topic
from govbus_devtools.demo.sample_data import birth, death
from tests.integration.helpers import (
    APPROVAL,
    BIRTH,
    birth_subscription,
    reconciled,
    start_worker,
    wait_until,
)

DEATH = "gov.health.death_registered"
P99_LIMIT_S = 1.0
REALTIME_EVERY_S = 1.0
BULK_LANE = os.environ.get("GOVBUS_FAIRNESS_BULK_LANE", "bulk")


@dataclass
class Tail:
    """Reads two delivery topics (read_committed) from their start: of the events published
    from ``since`` on, counts the bulk subscriber's deliveries and times the real-time
    subscriber's (a new worker group also delivers the topics' history: left out)."""

    bootstrap: str
    bulk_topic: str
    realtime_topic: str
    since: dt.datetime
    bulk_delivered: int = 0
    latencies_s: list[float] = field(default_factory=list)
    halt: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        consumer = Consumer(
            {
                "bootstrap.servers": self.bootstrap,
                "group.id": f"fairness-tail-{self.realtime_topic}",
                "isolation.level": "read_committed",
                "enable.auto.commit": False,
                "fetch.wait.max.ms": 5,
            }
        )
        topics = consumer.list_topics(timeout=10).topics
        consumer.assign(
            [
                TopicPartition(topic, p, 0)
                for topic in (self.bulk_topic, self.realtime_topic)
                for p in topics[topic].partitions
            ]
        )
        try:
            while not self.halt.is_set():
                for msg in consumer.consume(1000, 0.1):
                    arrived = dt.datetime.now(dt.UTC)
                    if msg.error() is not None:
                        continue
                    published = Envelope.from_headers(msg.headers()).time
                    if published < self.since:
                        continue
                    if msg.topic() == self.bulk_topic:
                        self.bulk_delivered += 1
                    else:
                        self.latencies_s.append((arrived - published).total_seconds())
        finally:
            consumer.close()


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(math.ceil(0.99 * len(ordered)) - 1, 0)]


def births_file(path: Path, n: int, seed: str) -> Path:
    """``n`` births with distinct certificate numbers (the bus dedupes on them)."""
    rng = random.Random(seed)
    first = rng.randrange(10**9, 9 * 10**9)
    today = dt.date.today()
    with path.open("w", encoding="utf-8") as out:
        for i in range(n):
            row = {**birth(rng, today), "certificate_no": f"Q{first + i}"}
            out.write(json.dumps(to_json(row), ensure_ascii=False) + "\n")
    return path


def run_fairness(
    bootstrap: str,
    uid: str,
    state_dir: Path,
    worker_env: dict[str, str],
    tmp_path: Path,
    records: int,
) -> None:
    bulk_sub, rt_sub = f"ps_{uid}", f"ca_{uid}"
    deaths_sub = {
        "id": f"ca-{uid}",
        "subscriber": rt_sub,
        "event_types": [DEATH],
        "fields": {"certificate_no": "clear", "citizen_id": "pseudonym"},
        "legal_basis": "law",
        "purpose": "cancel the household registration",
        "approval": APPROVAL,
    }
    births = births_in_mask(uid)
    worker = start_worker(bootstrap, uid, state_dir, worker_env, tmp_path, [births, deaths_sub])
    rng = random.Random(uid)
    pub = Publisher("health")
    tail: Tail | None = None
    loader: subprocess.Popen[bytes] | None = None
    try:
        # The worker group is new: it first decides the topics' whole history. One real-time
        # event through means it has caught up, and the measurement starts from there.
        pub.publish(DEATH, death(rng, dt.date.today())).result(timeout=30)
        assert wait_until(lambda: _delivered(bootstrap, rt_sub) >= 1, 300), "worker not caught up"
        path = births_file(tmp_path / "births.jsonl", records, uid)
        since = dt.datetime.now(dt.UTC)
        tail = Tail(bootstrap, delivery_topic(bulk_sub), delivery_topic(rt_sub), since)
        reader = threading.Thread(target=tail.run, name="fairness-tail", daemon=True)
        reader.start()
        started = time.monotonic()
        log = (tmp_path / "load.log").open("w")
        loader = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "govbus"),
                "load",
                str(path),
                "--type",
                BIRTH,
                "--source",
                "health",
                "--lane",
                BULK_LANE,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        sent = 0
        drained = None
        # One real-time event a second until the bulk load is loaded and delivered.
        deadline = started + max(600.0, records / 50)
        while time.monotonic() < deadline:
            pub.publish(DEATH, death(rng, dt.date.today())).result(timeout=30)
            sent += 1
            if loader.poll() is not None and tail.bulk_delivered >= records:
                drained = time.monotonic() - started
                break
            time.sleep(REALTIME_EVERY_S)
        loader.wait(timeout=60)
        log.close()
        output = (tmp_path / "load.log").read_text()
        assert loader.returncode == 0, output
        assert f"published {records}" in output, output
        wait_until(lambda: len(tail.latencies_s) >= sent, 60)
        measured = p99(tail.latencies_s)
        took = drained or time.monotonic() - started
        print(
            f"\n[measured] lane={BULK_LANE} bulk={tail.bulk_delivered}/{records} loaded and "
            f"delivered in {took:.0f}s ({tail.bulk_delivered / took:.0f}/s); real-time "
            f"events={len(tail.latencies_s)}/{sent} "
            f"p50={sorted(tail.latencies_s)[len(tail.latencies_s) // 2]:.3f}s "
            f"p99={measured:.3f}s max={max(tail.latencies_s):.3f}s"
        )
        assert drained is not None, f"bulk load not delivered: {tail.bulk_delivered}/{records}"
        assert len(tail.latencies_s) == sent
        result = reconciled(bootstrap, worker_env["GOVBUS_APP_ID"], since, records + sent)
        assert result.gaps == []
        assert result.pending == 0
        assert result.inputs == result.accepted == records + sent
        assert result.duplicates == result.dead_letters == 0
        assert result.by_subscriber == {bulk_sub: records, rt_sub: sent}
        assert measured <= P99_LIMIT_S
    finally:
        if loader is not None and loader.poll() is None:
            loader.kill()
        if tail is not None:
            tail.halt.set()
        pub.close()
        worker.stop()


def births_in_mask(uid: str) -> dict[str, object]:
    """The bulk subscriber: births with identifiers pseudonymised (masking has work to do)."""
    return birth_subscription(
        uid,
        {"certificate_no": "clear", "mother_id": "pseudonym", "father_id": "pseudonym"},
    )


def _delivered(bootstrap: str, subscriber: str) -> int:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"fairness-count-{subscriber}",
            "isolation.level": "read_committed",
        }
    )
    topic = delivery_topic(subscriber)
    try:
        parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, 0) for p in parts])
        count = 0
        while batch := consumer.consume(1000, 1.0):
            count += sum(1 for m in batch if m.error() is None)
        return count
    finally:
        consumer.close()


# The load takes one to a few minutes on a busy 2-core machine (the worker decides ~500/s),
# and its 20,000 births stay in the bulk topic's history for every later worker of the
# session: a soak test (`make soak`), not CI's. Its p99 bound has not held here yet
# (docs/soak.md).
@pytest.mark.soak
@pytest.mark.timeout(1200)
def test_a_bulk_load_does_not_hold_up_realtime_events(
    bootstrap: str, uid: str, state_dir: Path, worker_env: dict[str, str], tmp_path: Path
) -> None:
    run_fairness(bootstrap, uid, state_dir, worker_env, tmp_path, records=20_000)


@pytest.mark.soak
@pytest.mark.timeout(3600)
def test_a_100k_bulk_load_does_not_hold_up_realtime_events(
    bootstrap: str, uid: str, state_dir: Path, worker_env: dict[str, str], tmp_path: Path
) -> None:
    run_fairness(bootstrap, uid, state_dir, worker_env, tmp_path, records=100_000)

"""Shared helpers for the integration tests (real Kafka, Redis, PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import yaml
from confluent_kafka import Consumer, TopicPartition

from bench.common import start_at_end
from govbus.adapters.publisher import Publisher, PublishResult
from govbus.config import ConnectionSettings
from govbus.delivery_reader import DeliveryReader, Received, read_deliveries
from govbus.schemas.catalogue import default_catalogue
from govbus.schemas.topics import delivery_topic
from govbus.streams.reconcile import Reconciliation, collect
from govbus_devtools.demo.sample_data import birth
from govbus_devtools.devenv.worker import WorkerProcess

APPROVAL = {"approver": "hc", "approved_at": "2026-01-01T00:00:00Z"}


def write_policy(path: Path, subs: list[dict[str, Any]]) -> Path:
    path.write_text(yaml.safe_dump({"version": 1, "subscriptions": subs}, allow_unicode=True))
    return path


def read(
    bootstrap: str, subscriber: str, ids: set[str], timeout_s: float = 60
) -> dict[str, Received]:
    return read_deliveries(bootstrap, subscriber, ids, timeout_s)


def read_all(bootstrap: str, subscriber: str, settle_s: float = 3.0) -> list[Received]:
    """Every delivery in the subscriber's topic (committed), until nothing new for settle_s."""
    reader = DeliveryReader(bootstrap, subscriber, group=f"t-{uuid.uuid4().hex[:8]}")
    got: list[Received] = []
    quiet_since = time.monotonic()
    try:
        while time.monotonic() - quiet_since < settle_s:
            batch = reader.poll(1000, 0.5)
            if batch:
                got += batch
                quiet_since = time.monotonic()
    finally:
        reader.close()
    return got


def wait_until(check: Callable[[], bool], timeout_s: float, step_s: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(step_s)
    return check()


def topic_size(bootstrap: str, subscriber: str) -> int:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"size-{uuid.uuid4()}"})
    try:
        topic = delivery_topic(subscriber)
        meta = consumer.list_topics(topic, timeout=10).topics[topic]
        return sum(
            consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in meta.partitions
        )
    finally:
        consumer.close()


BIRTH = "gov.health.birth_registered"


def birth_subscription(uid: str, fields: dict[str, str] | None = None) -> dict[str, Any]:
    """One approved subscription of ps_<uid> to births (certificate number in clear)."""
    return {
        "id": f"ps-{uid}",
        "subscriber": f"ps_{uid}",
        "event_types": [BIRTH],
        "fields": fields or {"certificate_no": "clear"},
        "legal_basis": "law",
        "purpose": "register",
        "approval": APPROVAL,
    }


def births_in_clear_to(uid: str, subscribers: list[str]) -> list[dict[str, Any]]:
    """One approved subscription of each subscriber to births (certificate number in clear)."""
    return [
        {
            **birth_subscription(uid, {"certificate_no": "clear"}),
            "id": f"sub-{s}".replace("_", "-"),
            "subscriber": s,
        }
        for s in subscribers
    ]


def start_worker(
    bootstrap: str,
    uid: str,
    state_dir: Path,
    worker_env: dict[str, str],
    tmp_path: Path,
    subscriptions: list[dict[str, Any]],
    extra_env: dict[str, str] | None = None,
    *,
    from_end: bool = False,
) -> WorkerProcess:
    """A running stream worker (own app id, policy topic and data dir) with this policy.
    ``from_end``: its group starts at the event topics' current ends, so it does not first
    work through every event earlier tests of the session published."""
    policy = write_policy(tmp_path / "policy.yaml", subscriptions)
    if from_end:
        start_at_end(bootstrap, worker_env["GOVBUS_APP_ID"], default_catalogue().event_topics())
    worker = WorkerProcess(
        state_dir,
        f"streams-{uid}",
        bootstrap=bootstrap,
        env={**worker_env, "GOVBUS_POLICY_FILE": str(policy), **(extra_env or {})},
    )
    worker.start(timeout_s=120)
    return worker


class Load(threading.Thread):
    """Publishes births through the SDK at a steady rate until stopped."""

    def __init__(
        self, seed: str, rate_per_s: float = 40.0, conn: ConnectionSettings | None = None
    ) -> None:
        super().__init__(name="fault-load", daemon=True)
        self.rng = random.Random(seed)
        self.interval = 1.0 / rate_per_s
        self.futures: list[Future[PublishResult]] = []
        self.halt = threading.Event()
        self.pub = Publisher("health", conn=conn)

    def run(self) -> None:
        while not self.halt.is_set():
            self.futures.append(self.pub.publish(BIRTH, birth(self.rng, dt.date.today())))
            time.sleep(self.interval)

    def finish(self) -> list[str]:
        """Stop, wait for every acknowledgement (the SDK buffers through a broker outage)
        and return the acknowledged event ids. A failure would surface here, never vanish."""
        self.halt.set()
        self.join()
        self.pub.close(timeout_s=120)
        return [f.result(timeout=1).event_id for f in self.futures]


def reconciled(bootstrap: str, app_id: str, since: dt.datetime, published: int) -> Reconciliation:
    catalogue = default_catalogue()
    result = collect(bootstrap, catalogue, app_id, since)
    deadline = time.monotonic() + 120
    while (result.pending or result.inputs < published) and time.monotonic() < deadline:
        time.sleep(2)
        result = collect(bootstrap, catalogue, app_id, since)
    return result


def assert_each_delivered_exactly_once(
    result: Reconciliation, acked: list[str], subscribers: list[str]
) -> None:
    """Every acknowledged event decided once, accepted, and on each subscriber's topic once."""
    assert result.gaps == []
    assert result.pending == 0
    assert result.inputs == result.accepted == len(acked)
    assert result.duplicates == result.dead_letters == 0
    assert result.by_subscriber == dict.fromkeys(subscribers, len(acked))

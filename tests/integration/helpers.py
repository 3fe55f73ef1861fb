"""Shared helpers for the integration tests (real Kafka, Redis, PostgreSQL)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from confluent_kafka import Consumer, TopicPartition

from govbus.devenv.worker import WorkerProcess
from govbus.gateway.reader import DeliveryReader, Received, read_deliveries
from govbus.schemas.topics import delivery_topic

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
) -> WorkerProcess:
    """A running stream worker (own app id, policy topic and data dir) with this policy."""
    policy = write_policy(tmp_path / "policy.yaml", subscriptions)
    worker = WorkerProcess(
        state_dir,
        f"streams-{uid}",
        bootstrap=bootstrap,
        env={**worker_env, "GOVBUS_POLICY_FILE": str(policy), **(extra_env or {})},
    )
    worker.start(timeout_s=120)
    return worker

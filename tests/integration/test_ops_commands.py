"""The commands a deployment runs: the init job (`govbus streams init`) and the probes
(`govbus health worker|gateway`), run as processes the way a container runs them."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

from govbus.config import ConnectionSettings, StreamsSettings
from govbus.kafka_admin import (
    EventPartitionsError,
    ensure_bus_topics,
    ensure_topics,
    partition_counts,
)
from govbus.schemas.catalogue import Catalogue, default_catalogue
from govbus.schemas.topics import delivery_topic
from tests.integration.helpers import birth_subscription, start_worker, write_policy

GOVBUS = str(Path(sys.executable).parent / "govbus")


def govbus(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [GOVBUS, *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_init_creates_the_topics_and_applies_the_policy_and_is_idempotent(
    runtime: ConnectionSettings,
    bootstrap: str,
    uid: str,
    worker_env: dict[str, str],
    tmp_path: Path,
) -> None:
    policy = write_policy(tmp_path / "policy.yaml", [birth_subscription(uid)])
    env = {**worker_env, "GOVBUS_POLICY_FILE": str(policy)}
    first = govbus("streams", "init", env=env)
    assert first.returncode == 0, first.stderr
    assert delivery_topic(f"ps_{uid}") in first.stdout
    topics = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10).topics
    assert {delivery_topic(f"ps_{uid}"), env["GOVBUS_POLICY_TOPIC"]} <= set(topics)
    again = govbus("streams", "init", env=env)
    assert again.returncode == 0
    assert "created 0 topics" in again.stdout


def test_init_and_the_worker_refuse_event_topics_with_another_partition_count(
    runtime: ConnectionSettings, worker_env: dict[str, str]
) -> None:
    # The session's event topics have the default 12 partitions; Kafka cannot remove any.
    env = {**worker_env, "GOVBUS_EVENT_PARTITIONS": "6"}
    init = govbus("streams", "init", env=env)
    said = " ".join(init.stderr.split())  # the console wraps long lines
    assert init.returncode == 2, init.stderr
    assert "GOVBUS_EVENT_PARTITIONS=6 partitions" in said
    assert "set GOVBUS_EVENT_PARTITIONS to 12" in said
    run = govbus("streams", "run", env=env)
    assert run.returncode == 2, run.stderr
    assert "GOVBUS_EVENT_PARTITIONS=6 partitions" in " ".join(run.stderr.split())


def test_event_topics_with_fewer_partitions_are_refused_then_grown_on_request(
    bootstrap: str, uid: str
) -> None:
    birth = default_catalogue().get("gov.health.birth_registered", 2)
    assert birth is not None
    own = Catalogue([dataclasses.replace(birth, type=f"gov.t{uid}.birth_registered")])
    topic = next(iter(own)).topic
    ensure_topics(bootstrap, {topic: {}}, partitions=3, replication=1)  # an older cluster
    settings = StreamsSettings(event_partitions=12)
    with pytest.raises(EventPartitionsError, match=f"{topic} has 3"):
        ensure_bus_topics(bootstrap, own, [], settings=settings)
    ensure_bus_topics(bootstrap, own, [], settings=settings, grow=True)
    assert partition_counts(bootstrap, [topic]) == {topic: 12}


def test_the_worker_probe_follows_the_worker(
    bootstrap: str, uid: str, state_dir: Path, worker_env: dict[str, str], tmp_path: Path
) -> None:
    assert govbus("health", "worker", env=worker_env).returncode == 1  # not started yet
    worker = start_worker(
        bootstrap, uid, state_dir, worker_env, tmp_path, [birth_subscription(uid)]
    )
    try:
        time.sleep(6)  # at least one heartbeat
        assert govbus("health", "worker", env=worker_env).returncode == 0
    finally:
        worker.stop()
    time.sleep(2)
    assert govbus("health", "worker", "--max-age", "1", env=worker_env).returncode == 1

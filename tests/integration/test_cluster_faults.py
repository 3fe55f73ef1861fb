"""Faults of a multi-broker cluster under load: on a real 3-node KRaft cluster (replication 3,
min.insync.replicas 2), the leader of an event-topic partition, or of a delivery-topic
partition, is killed with SIGKILL mid-stream and restarted. Every published event must still
end delivered exactly once to each subscriber (or duplicate, or dead-lettered), and the
reconciliation must be exact."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from govbus.config import ConnectionSettings
from govbus.schemas.catalogue import default_catalogue
from govbus.schemas.topics import delivery_topic
from govbus_devtools.devenv.kafka import KafkaCluster, LocalKafka
from govbus_devtools.devenv.worker import WorkerProcess
from tests.integration.helpers import (
    BIRTH,
    Load,
    assert_each_delivered_exactly_once,
    births_in_clear_to,
    reconciled,
    start_worker,
    wait_until,
)

pytestmark = [pytest.mark.slow, pytest.mark.soak]


@pytest.fixture
def cluster_worker(
    cluster: KafkaCluster,
    uid: str,
    state_dir: Path,
    worker_env: dict[str, str],
    tmp_path: Path,
) -> Iterator[tuple[WorkerProcess, dict[str, str], list[str]]]:
    """A stream worker on the cluster, with two subscribers of births."""
    subscribers = [f"ps_{uid}", f"mi_{uid}"]
    env = {
        **worker_env,
        "GOVBUS_KAFKA_BOOTSTRAP": cluster.bootstrap,
        "GOVBUS_REPLICATION_FACTOR": "3",
    }
    worker = start_worker(
        cluster.bootstrap,
        uid,
        state_dir,
        env,
        tmp_path,
        births_in_clear_to(uid, subscribers),
        {"GOVBUS_BATCH_SIZE": "20"},
    )
    yield worker, env, subscribers
    worker.stop()


def kill_leader(cluster: KafkaCluster, topic: str, partition: int) -> tuple[LocalKafka, float]:
    """SIGKILL the node leading ``topic``/``partition``; returns it once another node leads,
    with the seconds that took."""
    victim = cluster.leader(topic, partition)
    assert victim is not None, f"{topic}/{partition} has no leader"
    killed_at = time.monotonic()
    assert victim.kill()

    def moved() -> bool:
        leader = cluster.leader(topic, partition)
        return leader is not None and leader.broker_id != victim.broker_id

    assert wait_until(moved, 60, 0.2), f"no new leader for {topic}/{partition}"
    return victim, time.monotonic() - killed_at


@pytest.mark.parametrize("victim", ["event_topic_leader", "delivery_topic_leader"])
def test_reconciliation_is_exact_after_a_partition_leader_is_killed_under_load(
    cluster: KafkaCluster,
    uid: str,
    victim: str,
    cluster_worker: tuple[WorkerProcess, dict[str, str], list[str]],
) -> None:
    _, env, subscribers = cluster_worker
    event_topic = default_catalogue().latest(BIRTH).topic  # type: ignore[union-attr]
    topic = event_topic if victim == "event_topic_leader" else delivery_topic(subscribers[0])
    since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    load = Load(uid, conn=ConnectionSettings(kafka_bootstrap=cluster.bootstrap))
    load.start()
    time.sleep(4)
    killed, failover_s = kill_leader(cluster, topic, 0)
    time.sleep(4)  # the load goes on with one node down: two replicas are enough
    killed.start()  # recovers its logs while the load goes on, then catches up
    time.sleep(4)
    acked = load.finish()
    assert len(acked) > 300
    result = reconciled(cluster.bootstrap, env["GOVBUS_APP_ID"], since, len(acked))
    killed.wait_ready()
    print(
        f"\n[measured] {victim} ({topic}/0, node {killed.broker_id}) killed under load: "
        f"another node led after {failover_s:.1f}s; {len(acked)} events published, "
        f"{result.accepted} accepted, {result.deliveries} deliveries, {len(result.gaps)} gaps"
    )
    assert_each_delivered_exactly_once(result, acked, subscribers)

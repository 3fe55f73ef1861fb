"""`govbus reconcile` over a window also sees what the window holds for inputs older than
it: a second copy of an old delivery, written now, is a gap, though its input is not in the
window and no audit record in the window names its subscriber."""

from __future__ import annotations

import datetime as dt
import json
import random
import time
import uuid
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, Producer, TopicPartition

from govbus.adapters.publisher import Publisher
from govbus.schemas.topics import delivery_topic
from govbus_devtools.demo.sample_data import birth
from tests.integration.helpers import BIRTH, birth_subscription, read, start_worker
from tests.integration.test_ops_commands import govbus
from tests.keys import delivery_id


def reconcile(since: dt.datetime, env: dict[str, str]) -> tuple[int, dict[str, Any]]:
    done = govbus(
        "reconcile",
        "--since",
        since.isoformat(),
        "--app-id",
        env["GOVBUS_APP_ID"],
        "--json",
        env=env,
    )
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(done.stdout)


def first_record(bootstrap: str, topic: str) -> Any:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"copy-{uuid.uuid4().hex[:8]}",
            "isolation.level": "read_committed",
        }
    )
    try:
        meta = consumer.list_topics(topic, timeout=10).topics[topic]
        consumer.assign([TopicPartition(topic, p, 0) for p in meta.partitions])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            msg = consumer.poll(1.0)
            if msg is not None and msg.error() is None:
                return msg
        raise AssertionError(f"nothing on {topic}")
    finally:
        consumer.close()


def test_a_copy_of_an_old_delivery_written_inside_the_window_is_delivered_twice(
    bootstrap: str, uid: str, state_dir: Path, worker_env: dict[str, str], tmp_path: Path
) -> None:
    subscriber = f"ps_{uid}"
    worker = start_worker(
        bootstrap, uid, state_dir, worker_env, tmp_path, [birth_subscription(uid)]
    )
    try:
        rng = random.Random(uid)
        with Publisher("health") as pub:
            ids = [
                pub.publish(BIRTH, birth(rng, dt.date.today())).result(30).event_id
                for _ in range(5)
            ]
        wanted = {delivery_id(subscriber, "health", e) for e in ids}
        assert set(read(bootstrap, subscriber, wanted)) == wanted
    finally:
        worker.stop()
    time.sleep(1.5)  # the window starts after every original delivery
    since = dt.datetime.now(dt.UTC)
    time.sleep(1.5)
    code, clean = reconcile(since, worker_env)
    assert (code, clean["exact"], clean["inputs"]) == (0, True, 0)

    original = first_record(bootstrap, delivery_topic(subscriber))
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    producer.produce(
        original.topic(),
        original.value(),
        original.key(),
        partition=original.partition(),
        headers=original.headers(),
    )
    assert producer.flush(30) == 0

    code, result = reconcile(since, worker_env)
    assert code == 1
    assert not result["exact"]
    (gap,) = result["gaps"]
    assert gap["kind"] == "delivered_twice"
    assert gap["position"].startswith(f"{delivery_topic(subscriber)}/{original.partition()}/")
    assert "2 copies" in gap["detail"]

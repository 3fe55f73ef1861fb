"""The subscriber SDK against the real gateway, worker and Kafka: a department reads its
deliveries with typed callbacks (a correction and a retraction each to its own), in Avro,
acks after handling, and a later run -- over SSE -- resumes exactly after its ack."""

from __future__ import annotations

import datetime as dt
import random
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from govbus.adapters.publisher import Publisher
from govbus.client import Delivery, Handlers, Subscriber
from govbus.config import ConnectionSettings, GatewaySettings
from govbus.gateway.keystore import KeyStore
from govbus_devtools.demo.sample_data import birth
from tests.integration.helpers import birth_subscription, start_worker
from tests.integration.test_gateway import Gateway
from tests.keys import delivery_id

BIRTH = "gov.health.birth_registered"


@pytest.fixture
def reader(
    runtime: ConnectionSettings,
    bootstrap: str,
    uid: str,
    state_dir: Path,
    worker_env: dict[str, str],
    tmp_path: Path,
) -> Iterator[tuple[str, str, str]]:
    """(gateway url, department, its subscriber key) with a worker delivering births."""
    dept = f"ps_{uid}"
    worker = start_worker(
        bootstrap,
        uid,
        state_dir,
        worker_env,
        tmp_path,
        [birth_subscription(uid, {"certificate_no": "clear", "birth_date": "clear"})],
    )
    settings = GatewaySettings(rate_limit_per_minute=10_000)
    keys = KeyStore(runtime.pg, settings.api_key_pepper.get_secret_value().encode())
    keys.init()
    try:
        with Gateway(runtime, settings) as gw:
            yield gw.url, dept, keys.issue(dept, ["subscriber"])
    finally:
        worker.stop()


class Until(threading.Event):
    """Set once every wanted delivery id was handled. Others are ignored: the department's
    new worker may still be delivering births that earlier tests published."""

    def __init__(self, want: set[str]) -> None:
        super().__init__()
        self.want = want
        self.seen: list[tuple[str, Delivery]] = []

    def add(self, kind: str, delivery: Delivery) -> None:
        if delivery.id in self.want:
            self.seen.append((kind, delivery))
        if self.want <= {d.id for _, d in self.seen}:
            self.set()

    def handlers(self) -> Handlers:
        return Handlers(
            on_event=lambda d: self.add("event", d),
            on_correction=lambda d: self.add("correction", d),
            on_retraction=lambda d: self.add("retraction", d),
        )


def test_a_department_reads_acks_and_resumes_through_the_sdk(
    reader: tuple[str, str, str], uid: str
) -> None:
    url, dept, key = reader
    rng = random.Random(uid)
    births = [birth(rng, dt.date.today()) for _ in range(3)]
    with Publisher("health") as pub:
        ids = [pub.publish(BIRTH, b).result(30).event_id for b in births]
        fixed = {**births[0], "birth_date": births[0]["birth_date"] - dt.timedelta(days=1)}
        correction = pub.publish(BIRTH, fixed, corrects=ids[0]).result(30).event_id
        retraction = pub.publish(BIRTH, births[1], corrects=ids[1], retract=True).result(30)

    mine = {i: delivery_id(dept, "health", i) for i in [*ids, correction, retraction.event_id]}
    first = Until(set(mine.values()))
    with Subscriber(url, key, avro=True, wait_s=2) as sub:
        stats = sub.run(first.handlers(), stop=first)
        acked = sub.cursor
    assert first.is_set(), stats
    by_id = {d.id: (kind, d) for kind, d in first.seen}
    assert {by_id[mine[i]][0] for i in ids} == {"event"}
    kind, amended = by_id[mine[correction]]
    assert (kind, amended.corrects, amended.amendment) == ("correction", mine[ids[0]], "correction")
    # Avro-typed values, decoded with the delivery schema the gateway serves.
    assert amended.data["birth_date"] == fixed["birth_date"]
    assert amended.raw is not None
    kind, withdrawn = by_id[mine[retraction.event_id]]
    assert (kind, withdrawn.corrects) == ("retraction", mine[ids[1]])
    assert {by_id[mine[i]][1].data["certificate_no"] for i in ids} == {
        b["certificate_no"] for b in births
    }
    assert acked is not None
    assert stats.acked >= 1

    # A later run (a new process, no cursor of its own) starts after the department's ack,
    # over SSE, and sees only what came since.
    later = [birth(rng, dt.date.today()) for _ in range(2)]
    with Publisher("health") as pub:
        new_ids = [pub.publish(BIRTH, b).result(30).event_id for b in later]
    second = Until({delivery_id(dept, "health", i) for i in new_ids})
    with Subscriber(url, key) as sub:
        stats = sub.run(second.handlers(), mode="stream", stop=second)
    assert second.is_set(), stats
    # Two partitions: no order between them.
    news = {d.id: d for _, d in second.seen}
    assert set(news) == second.want
    first_new = news[delivery_id(dept, "health", new_ids[0])]
    assert first_new.data["birth_date"] == later[0]["birth_date"].isoformat()

    again: list[Delivery] = []
    with Subscriber(url, key, wait_s=1) as sub:
        sub.run(again.append, idle_exit_s=3)
    seen_before = set(mine.values()) | second.want
    # The stream's ack held: nothing of ours is delivered a third time.
    assert [d.id for d in again if d.id in seen_before] == []

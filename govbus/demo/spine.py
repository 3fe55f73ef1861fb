"""The thinnest real slice: one birth from the health commission to every entitled department."""

from __future__ import annotations

import datetime as dt
import random
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from confluent_kafka.admin import AdminClient

from govbus.adapters import outbox
from govbus.adapters.outbox_relay import OutboxRelay
from govbus.config import ConnectionSettings, LocalRuntimeSettings, load
from govbus.demo.birth_registry import BirthRegistry
from govbus.demo.sample_data import birth
from govbus.devenv.runtime import Runtime
from govbus.devenv.worker import WorkerProcess
from govbus.gateway.reader import Received, read_deliveries
from govbus.policy import load_policy_file
from govbus.schemas.catalogue import default_catalogue
from govbus.schemas.envelope import delivery_id
from govbus.schemas.topics import delivery_topic

BIRTH = "gov.health.birth_registered"


def demo_policy_path() -> Path:
    return Path(str(resources.files("govbus").joinpath("examples", "policy-demo.yaml")))


@dataclass
class SpineOutcome:
    event_id: str
    published: dict[str, Any]
    received: dict[str, Received | None]
    unauthorized: dict[str, int]
    seconds: float


def run_spine(timeout_s: float = 60.0) -> SpineOutcome:
    Runtime().up()
    conn = load(ConnectionSettings)
    policy_path = demo_policy_path()
    policy = load_policy_file(policy_path, default_catalogue())
    worker = WorkerProcess(
        load(LocalRuntimeSettings).state_dir,
        "streams-demo",
        env={"GOVBUS_POLICY_FILE": str(policy_path)},
        bootstrap=conn.bootstrap,
    )
    worker.start()
    try:
        entitled = sorted({s.subscriber for s in policy.subscriptions if BIRTH in s.event_types})
        data = birth(random.Random(), dt.date.today())  # noqa: S311 - sample data only
        started = time.monotonic()
        # The hospital's registry records the birth and its outbox row in one transaction;
        # the outbox relay moves it to Kafka once the broker acknowledges.
        registry = BirthRegistry(conn.pg)
        registry.init()
        event_id = registry.register_birth(data)
        relay = OutboxRelay(conn.pg, {}, table=outbox.DEFAULT_TABLE)
        relay.run(once=True)
        for publisher in relay.publishers.values():
            publisher.close()
        deadline = started + timeout_s
        received: dict[str, Received | None] = {}
        for sub in entitled:
            wanted = delivery_id(sub, "health", event_id)
            got = read_deliveries(
                conn.bootstrap, sub, {wanted}, max(deadline - time.monotonic(), 1.0)
            )
            received[sub] = got.get(wanted)
        elapsed = time.monotonic() - started
        topics = AdminClient({"bootstrap.servers": conn.bootstrap}).list_topics(timeout=10).topics
        # tax has no subscription, so the bus never made it a delivery topic at all.
        unauthorized = {"tax": 0 if delivery_topic("tax") not in topics else -1}
        return SpineOutcome(event_id, data, received, unauthorized, elapsed)
    finally:
        worker.stop()

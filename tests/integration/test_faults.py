"""Faults under load on the real runtime, each bounded in time: the worker killed, Redis
stopped, the broker stopped, PostgreSQL stopped under the outbox relay, the gateway restarted
under an SSE client. After each, reconciliation must be exact: every input decided once, every
delivery on its topic once -- nothing lost, nothing delivered twice."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from govbus.adapters.outbox_relay import OutboxRelay, pending_counts
from govbus.config import ConnectionSettings, GatewaySettings
from govbus.gateway.keystore import KeyStore
from govbus_devtools.demo.civil_registry import CivilRegistry
from govbus_devtools.demo.sample_data import birth
from govbus_devtools.devenv.process import free_port
from govbus_devtools.devenv.runtime import Runtime
from govbus_devtools.devenv.worker import WorkerProcess
from tests.integration.helpers import (
    Load,
    assert_each_delivered_exactly_once,
    births_in_clear_to,
    reconciled,
    start_worker,
    wait_until,
)
from tests.keys import delivery_id

BIRTH = "gov.health.birth_registered"


@pytest.fixture
def two_subscribers(
    bootstrap: str, uid: str, state_dir: Path, worker_env: dict[str, str], tmp_path: Path
) -> Iterator[tuple[WorkerProcess, dict[str, str], list[str]]]:
    subscribers = [f"ps_{uid}", f"mi_{uid}"]
    worker = start_worker(
        bootstrap,
        uid,
        state_dir,
        worker_env,
        tmp_path,
        births_in_clear_to(uid, subscribers),
        {"GOVBUS_BATCH_SIZE": "20"},
    )
    yield worker, worker_env, subscribers
    worker.stop()


def _restart_redis() -> None:
    rt = Runtime()
    rt.redis.down()
    time.sleep(4)
    rt.redis.up()


def _restart_kafka() -> None:
    rt = Runtime()
    rt.kafka.down()
    time.sleep(4)
    rt.kafka.up()


@pytest.mark.parametrize(
    "fault",
    ["worker_sigkill", "redis_restart", "broker_restart"],
)
def test_reconciliation_is_exact_after_a_fault_under_load(
    bootstrap: str,
    uid: str,
    fault: str,
    two_subscribers: tuple[WorkerProcess, dict[str, str], list[str]],
) -> None:
    worker, env, subscribers = two_subscribers
    actions: dict[str, Callable[[], None]] = {
        "worker_sigkill": lambda: (worker.kill(), worker.start(timeout_s=120)),  # type: ignore[dict-item]
        "redis_restart": _restart_redis,
        "broker_restart": _restart_kafka,
    }
    since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    load = Load(uid)
    load.start()
    time.sleep(3)
    actions[fault]()
    time.sleep(3)
    acked = load.finish()
    assert len(acked) > 100
    result = reconciled(bootstrap, env["GOVBUS_APP_ID"], since, len(acked))
    assert_each_delivered_exactly_once(result, acked, subscribers)


def test_outbox_relay_survives_postgres_stopping(
    runtime: ConnectionSettings,
    bootstrap: str,
    uid: str,
    two_subscribers: tuple[WorkerProcess, dict[str, str], list[str]],
) -> None:
    _, env, subscribers = two_subscribers
    table = f"outbox_{uid}"
    registry = CivilRegistry(runtime.pg, prefix=f"reg_{uid}", outbox_table=table)
    registry.init()
    relay = OutboxRelay(runtime.pg, {}, table=table)
    relay_thread = threading.Thread(target=relay.run, kwargs={"idle_wait_s": 0.2}, daemon=True)
    relay_thread.start()
    since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    rng = random.Random(uid)
    recorded: list[str] = []
    for _ in range(30):
        recorded.append(registry.register_birth(birth(rng, dt.date.today())))
    rt = Runtime()
    rt.postgres.down()
    time.sleep(3)
    rt.postgres.up()
    for _ in range(30):
        recorded.append(registry.register_birth(birth(rng, dt.date.today())))
    assert wait_until(lambda: outbox_pending(runtime.pg, table) == 0, 90)
    relay.stop.set()
    relay_thread.join(timeout=30)
    assert not relay_thread.is_alive()
    assert relay.stats.failures >= 1  # the outage did reach the relay
    result = reconciled(bootstrap, env["GOVBUS_APP_ID"], since, len(recorded))
    assert result.gaps == []
    # A row Kafka acknowledged just before PostgreSQL went away is sent again (the relay is
    # at-least-once); the bus counts the repeat as a duplicate and delivers it once.
    assert result.accepted == len(recorded)
    assert result.inputs == result.accepted + result.duplicates
    assert result.dead_letters == 0
    assert result.by_subscriber == dict.fromkeys(subscribers, len(recorded))


def outbox_pending(dsn: str, table: str) -> int:
    try:
        return pending_counts(dsn, table).get("pending", 0)
    except psycopg.OperationalError:
        return -1


class SseClient(threading.Thread):
    """A subscriber's SSE client that reconnects with Last-Event-ID whenever the stream
    breaks, to whichever gateway instance is current."""

    def __init__(self, key: str) -> None:
        super().__init__(name="sse-client", daemon=True)
        self.key = key
        self.url = ""
        self.seen: list[str] = []
        self.reconnects = 0
        self.last_event_id: str | None = None
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            headers = {"X-API-Key": self.key}
            if self.last_event_id:
                headers["Last-Event-ID"] = self.last_event_id
            try:
                with httpx.stream(
                    "GET", f"{self.url}/v1/events/stream", headers=headers, timeout=10
                ) as response:
                    event_id = None
                    for line in response.iter_lines():
                        if line.startswith("id:"):
                            event_id = line[3:].strip()
                        elif line.startswith("data:"):
                            self.seen.append(json.loads(line[5:])["id"])
                            self.last_event_id = event_id
                        if self.halt.is_set():
                            return
            except httpx.HTTPError:
                pass
            self.reconnects += 1
            time.sleep(0.2)


class GatewayProcess:
    """`govbus gateway run` as its own process, so it can be killed like a crashed one."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "GOVBUS_GATEWAY_PORT": str(self.port),
            "GOVBUS_RATE_LIMIT_PER_MINUTE": "10000",
        }
        self.proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "govbus"), "gateway", "run"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        def ready() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).is_success
            except httpx.HTTPError:
                return False

        assert wait_until(ready, 60, 0.2)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)


def test_an_sse_client_misses_nothing_and_sees_nothing_twice_across_a_gateway_crash(
    runtime: ConnectionSettings,
    uid: str,
    two_subscribers: tuple[WorkerProcess, dict[str, str], list[str]],
) -> None:
    _, _, subscribers = two_subscribers
    settings = GatewaySettings()
    keys = KeyStore(runtime.pg, settings.api_key_pepper.get_secret_value().encode())
    keys.init()
    gateway = GatewayProcess(free_port())
    client = SseClient(keys.issue(subscribers[0], ["subscriber"]))
    client.url = f"http://127.0.0.1:{gateway.port}"
    load = Load(uid, rate_per_s=20)
    load.start()
    gateway.start()
    try:
        client.start()
        assert wait_until(lambda: len(client.seen) >= 20, 60)
        gateway.kill()  # mid-stream, no graceful shutdown
        time.sleep(1)
        gateway.start()
        acked = load.finish()
        wanted = {delivery_id(subscribers[0], "health", e) for e in acked}
        assert wait_until(lambda: wanted <= set(client.seen), 90)
        client.halt.set()
    finally:
        gateway.kill()
    assert client.reconnects >= 1
    ours = [s for s in client.seen if s in wanted]
    assert len(ours) == len(wanted), "an event was streamed twice"

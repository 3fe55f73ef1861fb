"""Session fixtures: the real runtime (Kafka KRaft + Redis + PostgreSQL), started by the
project's own tooling once per session.

Tests get their own runtime (state dir and ports apart from `govbus dev up`'s), and its
Kafka and Redis data are wiped at the start of each session: tests never see the demo's
data, and a long-lived development machine does not slow down as test events pile up.
Set GOVBUS_TEST_RUNTIME=shared to run against the normal local runtime instead.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

TEST_RUNTIME_ENV = {
    "GOVBUS_STATE_DIR": str(Path.home() / ".local" / "state" / "govbus-test"),
    "GOVBUS_PG_DATA_DIR": "/var/tmp/govbus-pg-test",  # noqa: S108 - a data dir
    "GOVBUS_KAFKA_PORT": "29092",
    "GOVBUS_KAFKA_CONTROLLER_PORT": "29093",
    "GOVBUS_KAFKA_SASL_PORT": "29094",
    "GOVBUS_REDIS_PORT": "26379",
    "GOVBUS_PG_PORT": "25432",
}
# Under pytest-xdist (`make test`) each xdist process runs its own runtime: ports shifted by
# XDIST_PORT_STRIDE per process (a runtime spans its base ports + 0..160: the fault cluster at
# + 40..60, a federation peer at + 100) and state directories of its own.
XDIST_PORT_STRIDE = 200


def runtime_env(base: dict[str, str], xdist_worker: str | None) -> dict[str, str]:
    """The session runtime's settings for this process (gw<N> is xdist's N-th process). The
    first process uses the plain settings, so it finds a runtime that a run without xdist
    left behind as its own instead of tripping over its ports."""
    if not xdist_worker or xdist_worker == "gw0":
        return dict(base)
    shift = XDIST_PORT_STRIDE * int(xdist_worker.removeprefix("gw"))
    return {
        key: str(int(value) + shift) if key.endswith("_PORT") else f"{value}-{xdist_worker}"
        for key, value in base.items()
    }


# Before any settings are read; worker subprocesses inherit these.
if os.environ.get("GOVBUS_TEST_RUNTIME") != "shared":
    _base = {key: os.environ.get(key, value) for key, value in TEST_RUNTIME_ENV.items()}
    os.environ.update(runtime_env(_base, os.environ.get("PYTEST_XDIST_WORKER")))

# The tests' bus runs on the development keys; the processes they start may too.
os.environ.setdefault("GOVBUS_DEV_KEYS", "true")

from govbus import telemetry  # noqa: E402
from govbus.config import ConnectionSettings, LocalRuntimeSettings, load  # noqa: E402
from govbus.kafka_admin import ensure_bus_topics  # noqa: E402
from govbus.schemas.catalogue import default_catalogue  # noqa: E402
from govbus_devtools.devenv.kafka import KafkaCluster  # noqa: E402
from govbus_devtools.devenv.runtime import Runtime, beside  # noqa: E402


@pytest.fixture(scope="session")
def runtime() -> ConnectionSettings:
    rt = Runtime()
    if os.environ.get("GOVBUS_TEST_RUNTIME") != "shared":
        rt.kafka.down()
        rt.redis.down()
        rt.kafka.wipe()
        shutil.rmtree(rt.redis.home, ignore_errors=True)
    rt.up()
    conn = load(ConnectionSettings)
    # A freshly wiped broker has no topics; workers create them, but a test may publish first.
    ensure_bus_topics(conn.bootstrap, default_catalogue(), [], replication=1)
    _warm_coordinators(conn.bootstrap)
    return conn


def _warm_coordinators(bootstrap: str, timeout_s: float = 120) -> None:
    """A fresh broker answers metadata before its group and transaction coordinators have
    loaded: the first test would see NOT_COORDINATOR or 'coordinator load in progress'."""
    from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition  # noqa: PLC0415

    deadline = time.monotonic() + timeout_s
    while True:
        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "govbus-test-warmup"})
        try:
            consumer.committed([TopicPartition("govbus.audit", 0)], timeout=10)
            producer = Producer(
                {"bootstrap.servers": bootstrap, "transactional.id": "govbus-test-warmup"}
            )
            producer.init_transactions(30)
            return
        except KafkaException:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)
        finally:
            consumer.close()


# The fault suite's cluster: nodes on the session's Kafka ports + 40, 50, 60, apart from a
# development cluster (`govbus dev up --brokers 3`: + 0, 10, 20) and a federation peer (+ 100).
CLUSTER_PORT_OFFSET = 40


@pytest.fixture(scope="session")
def cluster(runtime: ConnectionSettings) -> Iterator[KafkaCluster]:
    """A fresh 3-node KRaft cluster (each node a broker and a controller) beside the session's
    runtime, with the bus's topics replicated 3 times, min.insync.replicas 2. Redis and
    PostgreSQL are the session's. Only the fault suite uses it (~40 s to start)."""
    local = beside(
        load(LocalRuntimeSettings),
        "cluster",
        CLUSTER_PORT_OFFSET,
        kafka_brokers=3,
        kafka_heap="512m",
    )
    kafka = KafkaCluster(local)
    kafka.down()
    kafka.wipe()
    kafka.up()
    ensure_bus_topics(kafka.bootstrap, default_catalogue(), [], replication=3)
    yield kafka
    kafka.kill()  # its data is wiped at the next start: no need for a controlled shutdown


@pytest.fixture(scope="session")
def spans() -> InMemorySpanExporter:
    """This process's spans, in memory (the tracer provider is process-wide: set once)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    telemetry.add_span_processor(provider, SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return exporter


@pytest.fixture
def exporter(spans: InMemorySpanExporter) -> InMemorySpanExporter:
    spans.clear()
    return spans


@pytest.fixture(scope="session")
def bootstrap(runtime: ConnectionSettings) -> str:
    return runtime.bootstrap


@pytest.fixture
def uid() -> str:
    """A short unique token so each test has its own subscribers, groups and workers."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
def state_dir() -> Path:
    return load(LocalRuntimeSettings).state_dir


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.fspath)).parts
        if "integration" in parts:
            item.add_marker(pytest.mark.integration)
        elif "unit" in parts:
            item.add_marker(pytest.mark.unit)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """`make test` sets GOVBUS_REQUIRE_INTEGRATION=1: a run where the real-runtime tests were
    skipped or deselected must not pass as green."""
    if os.environ.get("GOVBUS_REQUIRE_INTEGRATION") != "1" or exitstatus != 0:
        return
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return  # the controller, which sees every process's reports, decides
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    stats = getattr(reporter, "stats", {}) if reporter else {}
    passed_integration = [
        r for r in stats.get("passed", []) if "integration" in getattr(r, "keywords", {})
    ]
    if not passed_integration:
        print("\nGOVBUS_REQUIRE_INTEGRATION=1 but no integration test passed")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture
def worker_env(uid: str, tmp_path: Path) -> dict[str, str]:
    return {
        "GOVBUS_APP_ID": f"govbus-test-{uid}",
        "GOVBUS_WORKER_ID": f"test-{uid}",
        "GOVBUS_DATA_DIR": str(tmp_path / "faust"),
        "GOVBUS_POLICY_TOPIC": f"govbus.policy.test-{uid}",
    }

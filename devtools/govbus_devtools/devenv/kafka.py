"""Apache Kafka in KRaft mode from Maven Central jars (no Docker): one node, or a cluster of
combined broker+controller nodes on loopback (``GOVBUS_KAFKA_BROKERS``).

Node i listens on the configured ports + 10 * i (``LocalRuntimeSettings.kafka_node_port``),
so a cluster stays inside its runtime's block of ports (a federation peer's runtime sits
100 above) and several runtimes on one machine never collide.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
import time
from importlib import resources
from pathlib import Path

from confluent_kafka.admin import AdminClient

from govbus.config import LocalRuntimeSettings
from govbus.errors import ServiceUnavailableError
from govbus.probes import kafka_answers
from govbus_devtools.devenv.packages import ensure_commands
from govbus_devtools.devenv.process import Managed, require_free_port, wait_until

_COMPLETE = ".complete"
SCRAM_JAAS = "org.apache.kafka.common.security.scram.ScramLoginModule required;"
START_TIMEOUT_S = 90.0  # per node: JVMs start slowly on a busy 2-core machine
BIND_RETRIES = 5
MAX_NODES = 4  # LocalRuntimeSettings.kafka_brokers' bound


class LocalKafka:
    """One node: the only one (its files keep the single-broker names), or node ``node`` of
    a cluster of ``nodes``. Its broker id is ``node + 1``."""

    def __init__(self, settings: LocalRuntimeSettings, node: int = 0, nodes: int = 1) -> None:
        self.settings = settings
        self.node = node
        self.nodes = nodes
        self._log_mark = 0
        if nodes == 1:
            self.home = settings.state_dir / "kafka"
            self.process = Managed("kafka", settings.state_dir)
        else:
            self.home = settings.state_dir / f"kafka-{nodes}x" / f"node-{node}"
            self.process = Managed(f"kafka-{nodes}x-{node}", settings.state_dir)

    @property
    def broker_id(self) -> int:
        return self.node + 1

    @property
    def port(self) -> int:
        return self.settings.kafka_node_port(self.settings.kafka_port, self.node)

    @property
    def controller_port(self) -> int:
        return self.settings.kafka_node_port(self.settings.kafka_controller_port, self.node)

    @property
    def sasl_port(self) -> int:
        return self.settings.kafka_node_port(self.settings.kafka_sasl_port, self.node)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def libs(self) -> Path:
        return self.settings.cache_dir / f"kafka-{self.settings.kafka_version}" / "libs"

    def up(self) -> str:
        """Start the node unless it already runs, and wait until it answers (in a cluster,
        a node answers once a quorum of controllers runs); returns a one-line status."""
        if self.running():
            return f"kafka {self.settings.kafka_version} already running at {self.bootstrap}"
        self.start()
        self.wait_ready()
        return f"kafka {self.settings.kafka_version} started at {self.bootstrap}"

    def running(self) -> bool:
        return self.process.pid() is not None and self.ready()

    def start(self, cluster_id: str | None = None) -> None:
        """Start the process without waiting (the nodes of a cluster wait for each other).
        ``cluster_id`` formats a fresh node's storage; a single node makes its own."""
        ensure_commands({"java": "openjdk-17-jre-headless", "mvn": "maven"})
        self.fetch()
        for port, what in (
            (self.port, "Kafka"),
            (self.controller_port, "the KRaft controller"),
            (self.sasl_port, "Kafka's SASL listener"),
        ):
            require_free_port(port, what)
        config = self._write_config()
        self._format(config, cluster_id)
        log = self.process.log_file
        self._log_mark = log.stat().st_size if log.exists() else 0
        self.process.start(self.java("kafka.Kafka", str(config)))

    def lost_a_port(self) -> bool:
        """Did the last start fail to bind a port?"""
        try:
            with self.process.log_file.open("rb") as log:
                log.seek(self._log_mark)
                return b"java.net.BindException" in log.read()
        except OSError:
            return False

    def wait_ready(self, timeout_s: float = START_TIMEOUT_S) -> None:
        wait_until(self.ready, timeout_s=timeout_s, what="Kafka", managed=self.process)

    def down(self) -> bool:
        return self.process.stop(timeout_s=45)

    def kill(self) -> bool:
        """SIGKILL, as a crashed machine: no controlled shutdown, no leadership handed over."""
        return self.process.stop(timeout_s=5, sig=signal.SIGKILL)

    def ready(self) -> bool:
        return kafka_answers({"bootstrap.servers": self.bootstrap})

    def fetch(self) -> None:
        """Gather the broker classpath with Maven into the cache, once per version."""
        if (self.libs / _COMPLETE).exists():
            return
        self.libs.parent.mkdir(parents=True, exist_ok=True)
        pom = resources.files("govbus_devtools.devenv").joinpath("kafka-pom.xml").read_text()
        with tempfile.TemporaryDirectory(dir=self.libs.parent) as tmp:
            work = Path(tmp)
            version = self.settings.kafka_version
            (work / "pom.xml").write_text(pom.replace("@KAFKA_VERSION@", version))
            result = subprocess.run(
                [
                    "mvn",
                    "-B",
                    "-q",
                    "dependency:copy-dependencies",
                    "-DincludeScope=runtime",
                    f"-DoutputDirectory={work / 'libs'}",
                ],
                cwd=work,
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                raise ServiceUnavailableError(
                    f"could not download Kafka {self.settings.kafka_version} from Maven Central "
                    f"(mvn exit {result.returncode}):\n{(result.stdout + result.stderr)[-1500:]}"
                )
            (work / "libs" / _COMPLETE).touch()
            shutil.rmtree(self.libs, ignore_errors=True)
            (work / "libs").rename(self.libs)

    def java(self, main: str, *args: str) -> list[str]:
        log4j = self.home / "log4j.properties"
        return [
            "java",
            f"-Xmx{self.settings.kafka_heap}",
            "-Xms256m",
            f"-Dlog4j.configuration=file:{log4j}",
            "-Djava.awt.headless=true",
            "-cp",
            f"{self.libs}/*",
            main,
            *args,
        ]

    def _write_config(self) -> Path:
        self.home.mkdir(parents=True, exist_ok=True)
        s = self.settings
        log4j = (
            resources.files("govbus_devtools.devenv").joinpath("kafka-log4j.properties").read_text()
        )
        (self.home / "log4j.properties").write_text(log4j)
        voters = ",".join(
            f"{n + 1}@127.0.0.1:{s.kafka_node_port(s.kafka_controller_port, n)}"
            for n in range(self.nodes)
        )
        # A cluster keeps what it acknowledged, and its offsets and transaction state, on two
        # of its (up to three) nodes: one node may die without losing or blocking anything.
        replicas = min(self.nodes, 3)
        min_isr = 2 if replicas >= 3 else 1
        lines = {
            "process.roles": "broker,controller",
            "node.id": str(self.broker_id),
            "controller.quorum.voters": voters,
            # PLAINTEXT on loopback for the bus's own components; SASL/SCRAM for departments'
            # own Kafka clients, which the StandardAuthorizer limits to what ACLs grant.
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},"
            f"CONTROLLER://127.0.0.1:{self.controller_port},"
            f"SASL_PLAINTEXT://127.0.0.1:{self.sasl_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port},"
            f"SASL_PLAINTEXT://127.0.0.1:{self.sasl_port}",
            "inter.broker.listener.name": "PLAINTEXT",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,"
            "SASL_PLAINTEXT:SASL_PLAINTEXT",
            "sasl.enabled.mechanisms": "SCRAM-SHA-512",
            "listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config": SCRAM_JAAS,
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "super.users": "User:ANONYMOUS;User:admin",
            "allow.everyone.if.no.acl.found": "false",
            "log.dirs": str(self.home / "data"),
            "num.partitions": "3",
            "default.replication.factor": str(replicas),
            "min.insync.replicas": str(min_isr),
            "unclean.leader.election.enable": "false",
            "offsets.topic.replication.factor": str(replicas),
            "offsets.topic.num.partitions": "10",
            "transaction.state.log.replication.factor": str(replicas),
            "transaction.state.log.min.isr": str(min_isr),
            "transaction.state.log.num.partitions": "10",
            "group.initial.rebalance.delay.ms": "0",
            # govbus creates every topic it uses with known partition counts.
            "auto.create.topics.enable": "false",
            "log.retention.hours": "168",
        }
        config = self.home / "server.properties"
        config.write_text("".join(f"{k}={v}\n" for k, v in lines.items()))
        return config

    def random_cluster_id(self) -> str:
        uuid = subprocess.run(
            self.java("kafka.tools.StorageTool", "random-uuid"),
            capture_output=True,
            text=True,
            check=False,
        )
        cluster_id = uuid.stdout.strip().splitlines()[-1] if uuid.returncode == 0 else ""
        if not cluster_id:
            raise ServiceUnavailableError(f"kafka-storage random-uuid failed: {uuid.stderr[-800:]}")
        return cluster_id

    def formatted(self) -> bool:
        return (self.home / "data" / "meta.properties").exists()

    def wipe(self) -> None:
        """Forget the node's data (it must be stopped)."""
        shutil.rmtree(self.home / "data", ignore_errors=True)

    def _format(self, config: Path, cluster_id: str | None) -> None:
        if self.formatted():
            return
        fmt = subprocess.run(
            self.java(
                "kafka.tools.StorageTool",
                "format",
                "-t",
                cluster_id or self.random_cluster_id(),
                "-c",
                str(config),
                "--ignore-formatted",
            ),
            capture_output=True,
            text=True,
            check=False,
        )
        if fmt.returncode != 0:
            raise ServiceUnavailableError(f"formatting KRaft storage failed: {fmt.stderr[-800:]}")


class KafkaCluster:
    """The local runtime's Kafka: ``settings.kafka_brokers`` nodes, each a broker and a
    KRaft controller (a quorum of all of them). One node is the plain single broker."""

    def __init__(self, settings: LocalRuntimeSettings) -> None:
        self.settings = settings
        size = settings.kafka_brokers
        self.nodes = [LocalKafka(settings, i, size) for i in range(size)]

    @property
    def bootstrap(self) -> str:
        return self.settings.local_bootstrap

    def node(self, broker_id: int) -> LocalKafka:
        return next(n for n in self.nodes if n.broker_id == broker_id)

    def leader(self, topic: str, partition: int) -> LocalKafka | None:
        """The node that leads this partition now (None while it has no leader)."""
        broker = partition_leader(self.bootstrap, topic, partition)
        return None if broker is None else self.node(broker)

    def up(self) -> str:
        """Start every node that is not running, then wait until all answer and see each
        other; returns a one-line status."""
        version = self.settings.kafka_version
        if all(n.running() for n in self.nodes) and self.ready():
            return f"kafka {version} already running at {self.bootstrap}"
        running_other = [n for n in self._other_sizes() if n.process.pid() is not None]
        if running_other:
            raise ServiceUnavailableError(
                f"a local Kafka of {running_other[0].nodes} node(s) runs on these ports; stop "
                "it first (govbus dev down), then start this one"
            )
        stopped = [n for n in self.nodes if n.process.pid() is None]
        cluster_id = None
        if any(not n.formatted() for n in stopped):
            formatted = [n for n in self.nodes if n.formatted()]
            if formatted:
                raise ServiceUnavailableError(
                    f"some nodes of the {len(self.nodes)}-node cluster have data and some have "
                    f"none; wipe them together ({self.nodes[0].home.parent})"
                )
            cluster_id = self.nodes[0].random_cluster_id() if len(self.nodes) > 1 else None
        try:
            for node in stopped:
                node.start(cluster_id)
            self._wait_started(cluster_id)
        except BaseException:
            for node in stopped:
                node.down()
            raise
        what = "a single node" if len(self.nodes) == 1 else f"{len(self.nodes)} nodes"
        return f"kafka {version} started at {self.bootstrap} ({what})"

    def _wait_started(self, cluster_id: str | None) -> None:
        """Until every node answers. A node that could not bind its port is started again:
        the ports sit in Linux's ephemeral range, where a client's outgoing connection can
        take a port between our check and the broker's bind."""
        deadline = time.monotonic() + START_TIMEOUT_S * len(self.nodes)
        retries = 0
        while time.monotonic() < deadline:
            if self.ready():
                return
            for node in self.nodes:
                if node.process.pid() is not None:
                    continue
                if not node.lost_a_port() or retries >= BIND_RETRIES:
                    raise ServiceUnavailableError(
                        f"Kafka node {node.broker_id} exited during start-up; last log lines:\n"
                        f"{node.process.log_tail()}"
                    )
                retries += 1
                time.sleep(2)
                node.start(cluster_id)
            time.sleep(0.3)
        raise ServiceUnavailableError(
            f"Kafka ({len(self.nodes)} node(s)) did not become ready; logs: "
            f"{', '.join(str(n.process.log_file) for n in self.nodes)}\n"
            f"{self.nodes[0].process.log_tail()}"
        )

    def ready(self) -> bool:
        """Every node answers and the cluster's metadata lists every broker."""
        if not all(n.ready() for n in self.nodes):
            return False
        return kafka_brokers(self.bootstrap) == {n.broker_id for n in self.nodes}

    def down(self) -> bool:
        """Stop every node, of this size of cluster and of any other found running (one
        started with another --brokers); True if one was running."""
        stopped = [n.down() for n in (*self.nodes, *self._other_sizes())]
        return any(stopped)

    def _other_sizes(self) -> list[LocalKafka]:
        """The nodes of local clusters of every other size (they share the ports)."""
        return [
            LocalKafka(self.settings, i, size)
            for size in range(1, MAX_NODES + 1)
            if size != len(self.nodes)
            for i in range(size)
        ]

    def kill(self) -> None:
        """SIGKILL every node (quick; for a cluster whose data is thrown away)."""
        for node in self.nodes:
            node.kill()

    def wipe(self) -> None:
        for node in self.nodes:
            node.wipe()


def _admin(bootstrap: str) -> AdminClient:
    """The local cluster listens in plaintext on loopback (its SASL listener is for tests)."""
    return AdminClient({"bootstrap.servers": bootstrap, "socket.timeout.ms": 2000, "log_level": 0})


def kafka_brokers(bootstrap: str) -> set[int]:
    """The broker ids the cluster's metadata lists; empty if it does not answer."""
    try:
        return set(_admin(bootstrap).list_topics(timeout=3).brokers)
    except Exception:
        return set()


def partition_leader(bootstrap: str, topic: str, partition: int) -> int | None:
    """The broker id leading this partition, per fresh metadata; None if it has no leader
    (or the cluster does not answer)."""
    try:
        meta = _admin(bootstrap).list_topics(topic, timeout=5).topics[topic].partitions[partition]
    except Exception:
        return None
    return int(meta.leader) if meta.leader >= 0 else None

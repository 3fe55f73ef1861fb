"""A single-node Apache Kafka broker in KRaft mode, from Maven Central jars (no Docker)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from importlib import resources
from pathlib import Path

from govbus.config import LocalRuntimeSettings
from govbus.devenv.packages import ensure_commands
from govbus.devenv.probes import kafka_ready
from govbus.devenv.process import Managed, require_free_port, wait_until
from govbus.errors import ServiceUnavailableError

_COMPLETE = ".complete"
SCRAM_JAAS = "org.apache.kafka.common.security.scram.ScramLoginModule required;"


class LocalKafka:
    def __init__(self, settings: LocalRuntimeSettings) -> None:
        self.settings = settings
        self.home = settings.state_dir / "kafka"
        self.process = Managed("kafka", settings.state_dir)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.settings.kafka_port}"

    @property
    def libs(self) -> Path:
        return self.settings.cache_dir / f"kafka-{self.settings.kafka_version}" / "libs"

    def up(self) -> str:
        """Start the broker unless ours already runs; returns a one-line status."""
        if self.process.pid() is not None and self.ready():
            return f"kafka {self.settings.kafka_version} already running at {self.bootstrap}"
        ensure_commands({"java": "openjdk-17-jre-headless", "mvn": "maven"})
        self.fetch()
        for port, what in (
            (self.settings.kafka_port, "Kafka"),
            (self.settings.kafka_controller_port, "the KRaft controller"),
            (self.settings.kafka_sasl_port, "Kafka's SASL listener"),
        ):
            require_free_port(port, what)
        config = self._write_config()
        self._format(config)
        self.process.start(self._java("kafka.Kafka", str(config)))
        wait_until(self.ready, timeout_s=90, what="Kafka", managed=self.process)
        return f"kafka {self.settings.kafka_version} started at {self.bootstrap}"

    def down(self) -> bool:
        return self.process.stop(timeout_s=45)

    def ready(self) -> bool:
        return kafka_ready(self.bootstrap)

    def fetch(self) -> None:
        """Gather the broker classpath with Maven into the cache, once per version."""
        if (self.libs / _COMPLETE).exists():
            return
        self.libs.parent.mkdir(parents=True, exist_ok=True)
        pom = resources.files("govbus.devenv").joinpath("kafka-pom.xml").read_text()
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

    def _java(self, main: str, *args: str) -> list[str]:
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
        log4j = resources.files("govbus.devenv").joinpath("kafka-log4j.properties").read_text()
        (self.home / "log4j.properties").write_text(log4j)
        lines = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{s.kafka_controller_port}",
            # PLAINTEXT on loopback for the bus's own components; SASL/SCRAM for departments'
            # own Kafka clients, which the StandardAuthorizer limits to what ACLs grant.
            "listeners": f"PLAINTEXT://127.0.0.1:{s.kafka_port},"
            f"CONTROLLER://127.0.0.1:{s.kafka_controller_port},"
            f"SASL_PLAINTEXT://127.0.0.1:{s.kafka_sasl_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{s.kafka_port},"
            f"SASL_PLAINTEXT://127.0.0.1:{s.kafka_sasl_port}",
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
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "10",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "10",
            "group.initial.rebalance.delay.ms": "0",
            # govbus creates every topic it uses with known partition counts.
            "auto.create.topics.enable": "false",
            "log.retention.hours": "168",
        }
        config = self.home / "server.properties"
        config.write_text("".join(f"{k}={v}\n" for k, v in lines.items()))
        return config

    def _format(self, config: Path) -> None:
        if (self.home / "data" / "meta.properties").exists():
            return
        uuid = subprocess.run(
            self._java("kafka.tools.StorageTool", "random-uuid"),
            capture_output=True,
            text=True,
            check=False,
        )
        cluster_id = uuid.stdout.strip().splitlines()[-1] if uuid.returncode == 0 else ""
        if not cluster_id:
            raise ServiceUnavailableError(f"kafka-storage random-uuid failed: {uuid.stderr[-800:]}")
        fmt = subprocess.run(
            self._java(
                "kafka.tools.StorageTool",
                "format",
                "-t",
                cluster_id,
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

"""The local runtime as a whole: Kafka + Redis + PostgreSQL, or the external ones configured."""

from __future__ import annotations

from dataclasses import dataclass

from govbus.config import ConnectionSettings, LocalRuntimeSettings, load
from govbus.errors import ServiceUnavailableError
from govbus.probes import kafka_ready, pg_ready, redis_ready
from govbus_devtools.devenv.kafka import KafkaCluster
from govbus_devtools.devenv.postgres import LocalPostgres
from govbus_devtools.devenv.redis import LocalRedis


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    where: str
    managed: bool  # started by govbus dev up (vs external)
    pid: int | None
    ready: bool


class Runtime:
    def __init__(
        self, local: LocalRuntimeSettings | None = None, conn: ConnectionSettings | None = None
    ) -> None:
        self.local = local or load(LocalRuntimeSettings)
        self.conn = conn or load(ConnectionSettings)
        self.local.state_dir.mkdir(parents=True, exist_ok=True)
        self.kafka = KafkaCluster(self.local)
        self.redis = LocalRedis(self.local)
        self.postgres = LocalPostgres(self.local)

    def up(self) -> list[str]:
        """Start what is local and check what is external; idempotent."""
        lines = []
        if self.conn.kafka_bootstrap is None:
            lines.append(self.kafka.up())
        else:
            _require(kafka_ready(self.conn), f"Kafka at {self.conn.bootstrap}")
            lines.append(f"kafka external at {self.conn.bootstrap}")
        if self.conn.redis_url is None:
            lines.append(self.redis.up())
        else:
            _require(redis_ready(self.conn.redis), "Redis at GOVBUS_REDIS_URL")
            lines.append("redis external (GOVBUS_REDIS_URL)")
        if self.conn.pg_dsn is None:
            lines.append(self.postgres.up())
        else:
            _require(pg_ready(self.conn.pg), "PostgreSQL at GOVBUS_PG_DSN")
            lines.append("postgresql external (GOVBUS_PG_DSN)")
        return lines

    def down(self) -> list[str]:
        stopped = []
        for name, svc in (
            ("kafka", self.kafka),
            ("redis", self.redis),
            ("postgres", self.postgres),
        ):
            if svc.down():
                stopped.append(name)
        return stopped

    def status(self) -> list[ServiceStatus]:
        if self.conn.kafka_bootstrap is not None:
            kafka = [
                ServiceStatus("kafka", self.conn.bootstrap, False, None, kafka_ready(self.conn))
            ]
        else:
            kafka = [
                ServiceStatus(
                    "kafka" if len(self.kafka.nodes) == 1 else f"kafka node {n.broker_id}",
                    n.bootstrap,
                    True,
                    n.process.pid(),
                    n.ready(),
                )
                for n in self.kafka.nodes
            ]
        return [
            *kafka,
            ServiceStatus(
                "redis",
                _safe_url(self.conn.redis),
                self.conn.redis_url is None,
                self.redis.process.pid(),
                redis_ready(self.conn.redis),
            ),
            ServiceStatus(
                "postgres",
                _safe_url(self.conn.pg),
                self.conn.pg_dsn is None,
                self.postgres.process.pid(),
                pg_ready(self.conn.pg),
            ),
        ]


def beside(
    base: LocalRuntimeSettings, name: str, port_offset: int, **update: object
) -> LocalRuntimeSettings:
    """Settings of another local runtime next to ``base``: every port shifted by
    ``port_offset``, ``<dir>-<name>`` state and data directories."""
    return base.model_copy(
        update={
            "state_dir": base.state_dir.with_name(f"{base.state_dir.name}-{name}"),
            "pg_data_dir": base.pg_data_dir.with_name(f"{base.pg_data_dir.name}-{name}"),
            "kafka_port": base.kafka_port + port_offset,
            "kafka_controller_port": base.kafka_controller_port + port_offset,
            "kafka_sasl_port": base.kafka_sasl_port + port_offset,
            "redis_port": base.redis_port + port_offset,
            "pg_port": base.pg_port + port_offset,
            **update,
        }
    )


def _require(ok: bool, what: str) -> None:
    if not ok:
        raise ServiceUnavailableError(f"{what} is configured but does not answer")


def _safe_url(url: str) -> str:
    """Drop any password from a URL before showing it."""
    if "@" not in url:
        return url
    scheme, rest = url.split("://", 1) if "://" in url else ("", url)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}@{host}" if scheme else f"{user}@{host}"

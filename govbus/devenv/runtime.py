"""The local runtime as a whole: Kafka + Redis + PostgreSQL, or the external ones configured."""

from __future__ import annotations

from dataclasses import dataclass

from govbus.config import ConnectionSettings, LocalRuntimeSettings, load
from govbus.devenv.kafka import LocalKafka
from govbus.devenv.postgres import LocalPostgres
from govbus.devenv.probes import kafka_ready, pg_ready, redis_ready
from govbus.devenv.redis import LocalRedis
from govbus.errors import ServiceUnavailableError


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
        self.kafka = LocalKafka(self.local)
        self.redis = LocalRedis(self.local)
        self.postgres = LocalPostgres(self.local)

    def up(self) -> list[str]:
        """Start what is local and check what is external; idempotent."""
        lines = []
        if self.conn.kafka_bootstrap is None:
            lines.append(self.kafka.up())
        else:
            _require(kafka_ready(self.conn.bootstrap), f"Kafka at {self.conn.bootstrap}")
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
        return [
            ServiceStatus(
                "kafka",
                self.conn.bootstrap,
                self.conn.kafka_bootstrap is None,
                self.kafka.process.pid(),
                kafka_ready(self.conn.bootstrap),
            ),
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

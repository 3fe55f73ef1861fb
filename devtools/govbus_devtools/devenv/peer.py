"""A second local runtime for a federation peer (another province's bus): its own Kafka
(KRaft), Redis and PostgreSQL, on their own ports and state directory, started by the same
tooling as the first. Used by the demo's cross-province case and the federation tests."""

from __future__ import annotations

import shutil
from dataclasses import dataclass

from govbus.config import ConnectionSettings, LocalRuntimeSettings
from govbus_devtools.devenv.runtime import Runtime, beside

PORT_OFFSET = 100


@dataclass(frozen=True)
class PeerRuntime:
    name: str
    local: LocalRuntimeSettings

    @classmethod
    def beside(cls, base: LocalRuntimeSettings, name: str) -> PeerRuntime:
        """The peer's runtime next to ``base``: ports shifted by 100, ``<dir>-<name>`` dirs."""
        return cls(name, beside(base, name, PORT_OFFSET, kafka_brokers=1))

    @property
    def conn(self) -> ConnectionSettings:
        return ConnectionSettings(
            kafka_bootstrap=f"127.0.0.1:{self.local.kafka_port}",
            redis_url=f"redis://127.0.0.1:{self.local.redis_port}/0",
            pg_dsn=f"postgresql://govbus@127.0.0.1:{self.local.pg_port}/govbus",  # type: ignore[arg-type]
        )

    @property
    def env(self) -> dict[str, str]:
        """For the peer's bus processes (worker, bridge): its services, named explicitly."""
        conn = self.conn
        return {
            "GOVBUS_STATE_DIR": str(self.local.state_dir),
            "GOVBUS_PG_DATA_DIR": str(self.local.pg_data_dir),
            "GOVBUS_KAFKA_PORT": str(self.local.kafka_port),
            "GOVBUS_KAFKA_CONTROLLER_PORT": str(self.local.kafka_controller_port),
            "GOVBUS_KAFKA_SASL_PORT": str(self.local.kafka_sasl_port),
            "GOVBUS_KAFKA_BROKERS": "1",
            "GOVBUS_REDIS_PORT": str(self.local.redis_port),
            "GOVBUS_PG_PORT": str(self.local.pg_port),
            "GOVBUS_KAFKA_BOOTSTRAP": conn.bootstrap,
            "GOVBUS_REDIS_URL": conn.redis,
            "GOVBUS_PG_DSN": conn.pg,
        }

    def runtime(self) -> Runtime:
        # Connection settings left unset: the runtime starts its own local services.
        unset = ConnectionSettings(kafka_bootstrap=None, redis_url=None, pg_dsn=None)
        return Runtime(self.local, unset)

    def up(self, *, fresh: bool = False) -> list[str]:
        """Start the peer's services (idempotent); ``fresh`` wipes its Kafka and Redis data."""
        rt = self.runtime()
        if fresh:
            rt.kafka.down()
            rt.redis.down()
            rt.kafka.wipe()
            shutil.rmtree(rt.redis.home, ignore_errors=True)
        return rt.up()

    def down(self) -> list[str]:
        return self.runtime().down()

"""A local Redis server with an append-only file, so dedupe keys survive a restart."""

from __future__ import annotations

from govbus.config import LocalRuntimeSettings
from govbus.probes import redis_ready
from govbus_devtools.devenv.packages import ensure_commands
from govbus_devtools.devenv.process import Managed, require_free_port, wait_until


class LocalRedis:
    def __init__(self, settings: LocalRuntimeSettings) -> None:
        self.settings = settings
        self.home = settings.state_dir / "redis"
        self.process = Managed("redis", settings.state_dir)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.settings.redis_port}/0"

    def up(self) -> str:
        if self.process.pid() is not None and self.ready():
            return f"redis already running at {self.url}"
        ensure_commands({"redis-server": "redis-server"})
        require_free_port(self.settings.redis_port, "Redis")
        self.home.mkdir(parents=True, exist_ok=True)
        self.process.start(
            [
                "redis-server",
                "--port",
                str(self.settings.redis_port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.home),
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--save",
                "",
                "--protected-mode",
                "yes",
            ]
        )
        wait_until(self.ready, timeout_s=20, what="Redis", managed=self.process)
        return f"redis started at {self.url}"

    def down(self) -> bool:
        return self.process.stop()

    def ready(self) -> bool:
        return redis_ready(self.url)

"""Run a stream worker as a child process (for the demo and the integration tests)."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

from confluent_kafka.admin import AdminClient

from govbus.config import StreamsSettings, load
from govbus.errors import ServiceUnavailableError
from govbus.heartbeat import age_s, heartbeat_file
from govbus_devtools.devenv.process import Managed


class WorkerProcess:
    def __init__(
        self,
        state_dir: Path,
        name: str = "streams",
        env: dict[str, str] | None = None,
        bootstrap: str = "127.0.0.1:19092",
    ) -> None:
        self.process = Managed(name, state_dir)
        self.env = env or {}
        self.bootstrap = bootstrap
        # The Faust app id is the consumer group.
        self.group = self.env.get("GOVBUS_APP_ID", "govbus-streams")

    def start(self, timeout_s: float = 60.0) -> int:
        """Start and wait until the worker holds partitions; on failure nothing is left running."""
        running = self.process.pid()
        if running is not None:
            return running
        pid = self.process.start(
            [sys.executable, "-m", "govbus.cli.main", "streams", "run"],
            env={"GOVBUS_DEV_KEYS": "true", **self.env},  # a local worker: dev keys allowed
        )
        try:
            self.wait_assigned(timeout_s)
        except BaseException:
            self.stop()
            raise
        return pid

    @property
    def heartbeat(self) -> Path:
        data_dir = Path(self.env["GOVBUS_DATA_DIR"]) if "GOVBUS_DATA_DIR" in self.env else None
        return heartbeat_file((data_dir or load(StreamsSettings).data_dir) / self.group, "worker")

    def wait_assigned(self, timeout_s: float) -> None:
        """Ready = the worker's consumer group is stable and holds partitions, and this worker
        has taken its tasks over (its heartbeat is newer than its start)."""
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        started = time.time()
        deadline = time.monotonic() + timeout_s
        last = "no answer yet"
        while time.monotonic() < deadline:
            if self.process.pid() is None:
                raise ServiceUnavailableError(f"stream worker exited:\n{self.process.log_tail(40)}")
            try:
                desc = admin.describe_consumer_groups([self.group])[self.group].result(timeout=5)
                stable = str(desc.state).endswith("STABLE") and any(
                    m.assignment.topic_partitions for m in desc.members
                )
                beat = age_s(self.heartbeat)
                if stable and beat is not None and beat < time.time() - started:
                    return
                last = f"group {self.group}: {desc.state}, {len(desc.members)} members"
            except Exception as exc:
                last = f"{type(exc).__name__}: {exc}"
            time.sleep(0.5)
        raise ServiceUnavailableError(
            f"stream worker not assigned within {timeout_s:.0f}s ({last}):\n"
            f"{self.process.log_tail(40)}"
        )

    def stop(self) -> bool:
        return self.process.stop(timeout_s=30)

    def pause(self) -> bool:
        """SIGSTOP: frozen as by a long GC pause, a stopped VM or a partition -- it keeps its
        sockets and its state, and carries on where it was when resumed."""
        return self.process.signal(signal.SIGSTOP)

    def resume(self) -> bool:
        return self.process.signal(signal.SIGCONT)

    def kill(self) -> bool:
        """SIGKILL: no clean shutdown, no final commit."""
        return self.process.stop(timeout_s=5, sig=signal.SIGKILL)

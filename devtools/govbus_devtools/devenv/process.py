"""Start, find and stop the local runtime's background processes by pid file."""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from govbus.errors import ServiceUnavailableError

# Children started by this process, kept so they can be reaped (no zombies, no
# "subprocess still running" warnings when the handle would be dropped).
_children: dict[int, subprocess.Popen[bytes]] = {}


@atexit.register
def _leave_running() -> None:
    """The local runtime outlives the command that started it (`make test` reuses it; `dev
    down` stops it by pid file): let go of those handles without a warning per process."""
    for proc in _children.values():
        if proc.poll() is None:
            proc.returncode = 0  # Popen's own marker for "nothing left to wait for"
    _children.clear()


@dataclass(frozen=True)
class Managed:
    """A process of ours: its name, pid file and log file in the state dir."""

    name: str
    state_dir: Path

    @property
    def pid_file(self) -> Path:
        return self.state_dir / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "logs" / f"{self.name}.log"

    def pid(self) -> int | None:
        """The pid if *our* process is alive, else None (a stale pid file is removed).

        The pid file also records the process's start time; a pid that now belongs to another
        process (reused after a reboot or a crash) is never taken for ours. (Process titles
        are no identity: Faust and Redis rewrite theirs.)"""
        try:
            pid_text, _, started = self.pid_file.read_text().partition("\n")
            pid = int(pid_text.strip())
        except (FileNotFoundError, ValueError):
            return None
        recorded = started.strip()
        # Files from older govbus versions hold no start time (a program name or nothing).
        if _alive(pid) and (not recorded.isdigit() or recorded == _start_time(pid)):
            return pid
        self.pid_file.unlink(missing_ok=True)
        return None

    def start(
        self,
        argv: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        user: str | None = None,
        cwd: Path | None = None,
    ) -> int:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        command = list(argv)
        if user is not None:
            command = ["runuser", "-u", user, "--", *command]
        with self.log_file.open("ab") as log:
            proc = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **(env or {})},
                cwd=cwd,
                start_new_session=True,
            )
        _children[proc.pid] = proc
        self.pid_file.write_text(f"{proc.pid}\n{_start_time(proc.pid)}")
        return proc.pid

    def stop(self, timeout_s: float = 30.0, sig: signal.Signals = signal.SIGTERM) -> bool:
        """Signal our pid (and its session), SIGKILL after the timeout. True if it was running."""
        pid = self.pid()
        if pid is None:
            return False
        _signal_group(pid, sig)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.2)
        if _alive(pid):
            _signal_group(pid, signal.SIGKILL)
        child = _children.pop(pid, None)
        if child is not None:
            child.wait(timeout=10)
        self.pid_file.unlink(missing_ok=True)
        return True

    def signal(self, sig: signal.Signals) -> bool:
        """Send ``sig`` to our process (and its session); False if it is not running."""
        pid = self.pid()
        if pid is None:
            return False
        _signal_group(pid, sig)
        return True

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours counts as dead.
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True


def _start_time(pid: int) -> str:
    """Start time in clock ticks since boot (/proc/<pid>/stat field 22); '' if unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    fields = stat.rsplit(")", 1)[1].split()
    return fields[19] if len(fields) > 19 else ""


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def free_port() -> int:
    """A loopback port nobody listens on right now (for servers started in-process)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def require_free_port(port: int, what: str) -> None:
    if port_in_use(port):
        raise ServiceUnavailableError(
            f"port {port} (for {what}) is already taken by a process govbus did not start; "
            f"stop it or choose another port (see docs/configuration.md)"
        )


def wait_until(check: Callable[[], bool], *, timeout_s: float, what: str, managed: Managed) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        if managed.pid() is None:
            raise ServiceUnavailableError(
                f"{what} exited during start-up; last log lines:\n{managed.log_tail()}"
            )
        time.sleep(0.3)
    raise ServiceUnavailableError(
        f"{what} did not become ready within {timeout_s:.0f}s; log: {managed.log_file}\n"
        f"{managed.log_tail()}"
    )

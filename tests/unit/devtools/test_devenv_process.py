"""A process the local runtime leaves running (Kafka, Redis, PostgreSQL between test runs)
is let go without a 'subprocess still running' warning when the starting command exits."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

START_AND_EXIT = """
import sys
from pathlib import Path
from govbus_devtools.devenv.process import Managed
print(Managed("sleeper", Path(sys.argv[1])).start(["sleep", "60"]))
"""


def test_a_process_left_running_is_let_go_quietly(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-X", "dev", "-W", "always", "-c", START_AND_EXIT, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    pid = int(done.stdout.strip())
    try:
        os.kill(pid, 0)  # still running: it was meant to outlive the command
        assert "still running" not in done.stderr, done.stderr
    finally:
        os.killpg(pid, signal.SIGKILL)

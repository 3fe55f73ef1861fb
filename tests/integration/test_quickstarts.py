"""The quickstarts work as written: every ```bash block of docs/quickstart-publish.md and
docs/quickstart-subscribe.md runs, in order, in one shell, against the real runtime."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

import pytest

from govbus.config import ConnectionSettings
from govbus_devtools.devenv.process import free_port

ROOT = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"^```bash\n(.*?)^```", re.S | re.M)


def shell_blocks(markdown: str) -> list[str]:
    return BLOCK.findall(markdown)


def test_blocks_are_found_in_order() -> None:
    text = "a\n```bash\necho 1\n```\n```python\nx\n```\n```bash\necho 2\n```\n"
    assert shell_blocks(text) == ["echo 1\n", "echo 2\n"]


def run_quickstart(name: str, env: dict[str, str], workdir: Path) -> str:
    """The doc's blocks as one script in a directory that looks like the clone (the venv
    and the package's example files linked in), so nothing is written into the repo. Any
    process the script leaves behind (a failed step before its ``kill``) is ended."""
    blocks = shell_blocks((ROOT / "docs" / name).read_text(encoding="utf-8"))
    assert blocks, name
    for entry in (".venv", "govbus", "devtools"):
        link = workdir / entry
        if not link.exists():
            link.symlink_to(ROOT / entry)
    script = "set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n"
    script += "\n".join(blocks)
    proc = subprocess.Popen(
        ["bash", "-c", script],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=900)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    logs = "".join(
        f"\n--- {log.name}\n{log.read_text(errors='replace')[-3000:]}"
        for log in workdir.glob("*.log")
    )
    assert proc.returncode == 0, out[-6000:] + logs
    return out


@pytest.fixture
def env(runtime: ConnectionSettings, worker_env: dict[str, str]) -> dict[str, str]:
    return {**os.environ, **worker_env, "GOVBUS_GATEWAY_PORT": str(free_port())}


def test_publish_your_first_event(env: dict[str, str], tmp_path: Path) -> None:
    out = run_quickstart("quickstart-publish.md", env, tmp_path)
    assert "published event " in out
    assert '"type":"gov.health.birth_registered.v2"' in out.replace(" ", "")
    assert "identifier-citizen_id" in out
    assert "110105199203141465 " not in out  # the refusal names the field, not the value


def test_read_your_first_delivery(env: dict[str, str], tmp_path: Path) -> None:
    out = run_quickstart("quickstart-subscribe.md", env, tmp_path)
    assert '"govbussubscription": "ps-household-from-birth"' in out
    assert '"dataschema": "http://127.0.0.1:' in out
    # The Avro page decoded with the schema fetched from the dataschema URL.
    assert re.search(r'^\S+ \{"certificate_no": "Q\d+", "baby_name": "王小明"', out, re.M), out

"""Liveness heartbeats, one scheme for every long-running component: it touches its file
while it makes progress, and ``govbus health <component>`` (container and Kubernetes probes)
fails when the file is missing or older than the component's bound."""

from __future__ import annotations

import time
from pathlib import Path


def heartbeat_file(directory: Path, component: str) -> Path:
    return directory / f"{component}-heartbeat"


def beat(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()


def age_s(path: Path) -> float | None:
    """Seconds since the last beat; None if there never was one."""
    try:
        return time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return None

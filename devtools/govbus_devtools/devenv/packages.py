"""Make sure the system tools the local runtime needs are installed (apt, idempotent)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping

from govbus.errors import ServiceUnavailableError

_apt_updated = False
# Debian's chromium: the console's browser tests drive it through Playwright.
CHROMIUM = "/usr/bin/chromium"


def ensure_commands(needed: Mapping[str, str]) -> None:
    """``needed`` maps a command to the Debian package that provides it."""
    missing = {cmd: pkg for cmd, pkg in needed.items() if _which(cmd) is None}
    if not missing:
        return
    packages = sorted(set(missing.values()))
    install_packages(packages, reason=f"missing {', '.join(sorted(missing))}")
    still = [cmd for cmd in missing if _which(cmd) is None]
    if still:
        raise ServiceUnavailableError(f"installed {packages} but still cannot find {still}")


def install_packages(packages: list[str], *, reason: str) -> None:
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise ServiceUnavailableError(
            f"{reason}; install the Debian packages {' '.join(packages)} "
            "(or point GOVBUS_KAFKA_BOOTSTRAP / GOVBUS_REDIS_URL / GOVBUS_PG_DSN at existing "
            "services)"
        )
    _apt_install(packages)


def _apt_install(packages: list[str]) -> None:
    global _apt_updated  # noqa: PLW0603 - one apt-get update per process is enough
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if not _apt_updated:
        _run(["apt-get", "update", "-qq"], env)
        _apt_updated = True
    _run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages], env)


def _run(argv: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ServiceUnavailableError(
            f"'{' '.join(argv)}' failed ({result.returncode}): {result.stderr.strip()[-800:]}"
        )


def _which(cmd: str) -> str | None:
    if os.path.isabs(cmd):
        return cmd if os.access(cmd, os.X_OK) else None
    return shutil.which(cmd)


def postgres_bin_dir() -> str | None:
    """Debian keeps initdb/pg_ctl under /usr/lib/postgresql/<major>/bin, newest first."""
    root = "/usr/lib/postgresql"
    if not os.path.isdir(root):
        return None
    majors = sorted((d for d in os.listdir(root) if d.isdigit()), key=int, reverse=True)
    for major in majors:
        candidate = os.path.join(root, major, "bin")
        if os.path.exists(os.path.join(candidate, "pg_ctl")):
            return candidate
    return None

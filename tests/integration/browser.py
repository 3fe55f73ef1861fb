"""A real browser for the console tests: Debian's chromium driven by Playwright. Playwright
never downloads a browser here (`make setup` installs chromium with apt). Without one, the
tests skip -- unless GOVBUS_REQUIRE_INTEGRATION=1 (as `make test` sets), where a missing
browser fails the run instead of passing it green."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from govbus_devtools.devenv.packages import CHROMIUM


def chromium_path() -> str | None:
    candidate = os.environ.get("GOVBUS_CHROMIUM") or CHROMIUM
    return candidate if Path(candidate).is_file() and os.access(candidate, os.X_OK) else None


def unavailable(why: str) -> None:
    if os.environ.get("GOVBUS_REQUIRE_INTEGRATION") == "1":
        pytest.fail(f"{why} (GOVBUS_REQUIRE_INTEGRATION=1: the browser tests must run)")
    pytest.skip(why)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = chromium_path()
    if executable is None:
        unavailable("no chromium: `make setup` installs it (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright  # noqa: PLC0415
    except ImportError:
        unavailable("the playwright package is missing: `make setup` installs it")
    with sync_playwright() as p:
        # --no-sandbox: CI containers run as root, where chromium's sandbox cannot start.
        launched = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


def screenshots_dir() -> Path | None:
    """Where to keep screenshots of the pages (docs/console.md's pictures), if anywhere."""
    given = os.environ.get("GOVBUS_CONSOLE_SCREENSHOTS")
    return Path(given) if given else None

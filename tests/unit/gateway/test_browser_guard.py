"""The console's browser tests cannot pass green without a browser under `make test`."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.browser import chromium_path, unavailable


def test_a_missing_browser_fails_when_integration_is_required(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GOVBUS_REQUIRE_INTEGRATION", "1")
    with pytest.raises(BaseException, match="no chromium") as raised:  # skip is no failure
        unavailable("no chromium")
    assert raised.type is pytest.fail.Exception
    assert "must run" in str(raised.value)


def test_a_missing_browser_skips_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOVBUS_REQUIRE_INTEGRATION", raising=False)
    with pytest.raises(BaseException, match="no chromium") as raised:
        unavailable("no chromium")
    assert raised.type is pytest.skip.Exception


def test_a_named_browser_that_is_not_there_is_missing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("GOVBUS_CHROMIUM", str(tmp_path / "no-such-chromium"))
    assert chromium_path() is None

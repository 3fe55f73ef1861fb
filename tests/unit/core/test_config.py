"""Settings: secrets may come from files (mounted Kubernetes/compose secrets), never echoed."""

from __future__ import annotations

from pathlib import Path

import pytest

from govbus.config import GatewaySettings, KeySettings, load
from govbus.errors import ConfigError


def test_a_secret_can_come_from_a_file_and_the_variable_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "pseudonym_key"
    secret.write_text("from-the-file\n")
    monkeypatch.setenv("GOVBUS_PSEUDONYM_KEY_FILE", str(secret))
    assert load(KeySettings).pseudonym_key.get_secret_value() == "from-the-file"
    monkeypatch.setenv("GOVBUS_PSEUDONYM_KEY", "from-the-variable")
    assert load(KeySettings).pseudonym_key.get_secret_value() == "from-the-variable"


def test_only_secret_fields_read_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    port = tmp_path / "port"
    port.write_text("9999")
    monkeypatch.setenv("GOVBUS_GATEWAY_PORT_FILE", str(port))
    assert load(GatewaySettings).gateway_port == 8080


def test_an_unreadable_secret_file_is_a_clear_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOVBUS_API_KEY_PEPPER_FILE", str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="GOVBUS_API_KEY_PEPPER_FILE: cannot read"):
        load(GatewaySettings)


def test_secrets_never_show_in_repr_or_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVBUS_SUBJECT_KEY", "very-secret-value")
    keys = load(KeySettings)
    assert "very-secret-value" not in repr(keys)
    assert "very-secret-value" not in str(keys.model_dump())


def test_the_bus_refuses_development_keys_unless_a_local_run_allows_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A missing key never degrades silently: the worker and the gateway refuse to start,
    naming every variable that is unset (and no secret)."""
    for name in ("PSEUDONYM_KEY", "SUBJECT_KEY", "DELIVERY_ID_KEY"):
        monkeypatch.delenv(f"GOVBUS_{name}", raising=False)
    monkeypatch.setenv("GOVBUS_DEV_KEYS", "false")
    monkeypatch.setenv("GOVBUS_PSEUDONYM_KEY", "a-real-key")
    with pytest.raises(ConfigError) as refused:
        load(KeySettings).require_real("the stream worker")
    assert "GOVBUS_SUBJECT_KEY, GOVBUS_DELIVERY_ID_KEY" in str(refused.value)
    assert "GOVBUS_PSEUDONYM_KEY" not in str(refused.value).split("set ")[1].split(" (or")[0]
    assert "a-real-key" not in str(refused.value)
    monkeypatch.setenv("GOVBUS_SUBJECT_KEY", "another-key")
    monkeypatch.setenv("GOVBUS_DELIVERY_ID_KEY", "a-third-key")
    load(KeySettings).require_real("the stream worker")  # all set: runs
    monkeypatch.delenv("GOVBUS_SUBJECT_KEY")
    monkeypatch.setenv("GOVBUS_DEV_KEYS", "true")
    load(KeySettings).require_real("the stream worker")  # a local run: allowed

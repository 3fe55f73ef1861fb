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

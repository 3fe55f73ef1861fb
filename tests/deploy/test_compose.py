"""compose.yaml against the compose-spec schema (no Docker engine needed), with a broken copy
as a control; every GOVBUS_* variable it sets exists; its commands are real CLI commands."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from govbus.cli.main import app
from govbus.settings_reference import mentioned, unknown
from tests.deploy.conftest import ROOT

COMPOSE = ROOT / "compose.yaml"


def load_compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_file_is_valid_against_the_compose_spec(compose_schema: Path) -> None:
    schema = json.loads(compose_schema.read_text())
    # The spec declares draft 7 under an unusual $schema URL: use the draft-07 validator.
    validator = jsonschema.Draft7Validator(schema)
    validator.validate(load_compose())
    broken = copy.deepcopy(load_compose())
    broken["services"]["streams"]["restart_policy"] = "always"  # not a compose key
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(broken)


def test_compose_has_every_part_of_the_bus() -> None:
    services = load_compose()["services"]
    assert {
        "kafka",
        "redis",
        "postgres",
        "init",
        "streams",
        "gateway",
        "otel-collector",
        "jaeger",
    } <= set(services)
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert "container_name" not in services["streams"]  # so `--scale streams=N` works
    assert "ports" not in services["streams"]
    for name in ("streams", "gateway", "bridge"):
        assert services[name]["depends_on"]["init"]["condition"] == "service_completed_successfully"
        assert "healthcheck" in services[name]
    assert services["bridge"]["profiles"] == ["federation"]  # only with a peer to bridge from


def test_every_setting_compose_uses_exists() -> None:
    names = mentioned(COMPOSE.read_text())
    assert "GOVBUS_KAFKA_BOOTSTRAP" in names
    assert unknown(names) == []


def test_no_secret_value_is_in_compose() -> None:
    compose = load_compose()
    for service in compose["services"].values():
        for key, value in (service.get("environment") or {}).items():
            if any(word in key for word in ("PASSWORD", "PEPPER", "DSN")) or key.endswith("_KEY"):
                assert key.endswith("_FILE"), key
                assert str(value).startswith("/run/secrets/"), key


def compose_commands() -> list[list[str]]:
    """Every govbus command compose runs: service commands and health checks."""
    out = []
    for service in load_compose()["services"].values():
        if str(service.get("image", "")).startswith("govbus"):
            out.append(list(service["command"]))
        test = (service.get("healthcheck") or {}).get("test", [])
        if test[:2] == ["CMD", "govbus"]:
            out.append(test[2:])
    return out


def assert_real_command(command: list[str]) -> None:
    words = [w for w in command if not w.startswith("-")]
    result = CliRunner().invoke(app, [*words, "--help"])
    assert result.exit_code == 0, f"govbus {' '.join(command)}: {result.output}"


def test_every_command_compose_runs_exists() -> None:
    commands = compose_commands()
    assert ["streams", "run"] in commands
    assert ["index", "run"] in commands
    assert ["federation", "bridge"] in commands
    for command in commands:
        assert_real_command(command)

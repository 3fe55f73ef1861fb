"""Deployment checks need a pinned helm, the compose-spec schema, promtool and Grafana's
dashboard schema (`make tools`). Missing
tools skip these tests in a bare `pytest`, and fail the run under `make test`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _tool(env: str) -> Path:
    value = os.environ.get(env)
    if value and Path(value).exists():
        return Path(value)
    message = f"{env} is not set to an existing file: run `make tools` (or `make deploy-check`)"
    if os.environ.get("GOVBUS_REQUIRE_INTEGRATION") == "1":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def helm() -> Path:
    return _tool("GOVBUS_HELM")


@pytest.fixture(scope="session")
def compose_schema() -> Path:
    return _tool("GOVBUS_COMPOSE_SCHEMA")


@pytest.fixture(scope="session")
def promtool() -> Path:
    return _tool("GOVBUS_PROMTOOL")


@pytest.fixture(scope="session")
def grafana_schema() -> Path:
    """The folder with @grafana/schema, @grafana/prometheus and typescript in node_modules."""
    return _tool("GOVBUS_GRAFANA_SCHEMA")

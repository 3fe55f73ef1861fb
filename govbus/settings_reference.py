"""Every GOVBUS_* variable, from the settings model itself: the operators' reference
(docs/configuration.md, `govbus config docs`) and the check that compose, Helm and a
process's environment name only variables that exist (`govbus config check`)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

from govbus.config import (
    ConnectionSettings,
    FederationSettings,
    GatewaySettings,
    KeySettings,
    LocalRuntimeSettings,
    StreamsSettings,
)

SETTINGS: tuple[type[BaseSettings], ...] = (
    ConnectionSettings,
    KeySettings,
    StreamsSettings,
    GatewaySettings,
    FederationSettings,
    LocalRuntimeSettings,
)
# Read outside the settings classes (tools and tests); documented here so they are known.
OTHER = {
    "GOVBUS_OTEL_FILE": "Write spans as JSON lines to this file (tests, debugging).",
    "GOVBUS_REQUIRE_INTEGRATION": "1 (as `make test` sets it): fail if no integration test passed.",
    "GOVBUS_TEST_RUNTIME": "`shared`: tests use the normal local runtime instead of their own.",
    "GOVBUS_CHROMIUM": "The chromium the console's browser tests drive (/usr/bin/chromium).",
    "GOVBUS_CONSOLE_SCREENSHOTS": "The console's browser tests save screenshots here.",
    "GOVBUS_HELM": "The helm binary the deployment tests use (`make tools` builds a pinned one).",
    "GOVBUS_COMPOSE_SCHEMA": "The compose-spec JSON schema the deployment tests use.",
    "GOVBUS_PROMTOOL": "The promtool the deployment tests check the alert rules with.",
    "GOVBUS_GRAFANA_SCHEMA": "Grafana's dashboard schema (npm, `make tools`) the deployment "
    "tests check the dashboard against with tsc.",
}
_NAME = re.compile(r"\bGOVBUS_[A-Z0-9_]+\b")


def _secret(field: FieldInfo) -> bool:
    return "SecretStr" in repr(field.annotation)


def env_names() -> dict[str, str]:
    """Every accepted variable -> its description."""
    out: dict[str, str] = {}
    for cls in SETTINGS:
        for name, field in cls.model_fields.items():
            env = f"GOVBUS_{name.upper()}"
            out[env] = field.description or ""
            if _secret(field):
                out[f"{env}_FILE"] = f"File holding {env} (a mounted secret)."
    return {**out, **OTHER}


def unknown(names: Iterable[str]) -> list[str]:
    known = env_names()
    return sorted({n for n in names if n.startswith("GOVBUS_") and n not in known})


def mentioned(text: str) -> set[str]:
    """GOVBUS_* names in a file (compose, a rendered manifest, a shell script)."""
    return set(_NAME.findall(text))


def unknown_in_environment(environ: Mapping[str, str]) -> list[str]:
    return unknown(environ)


def reference_markdown() -> str:
    lines = [
        "# Configuration reference",
        "",
        "Generated from the settings model by `govbus config docs`; a test keeps it in step.",
        "Every secret can also be given as a file: `GOVBUS_<NAME>_FILE=/path` (for mounted",
        "Kubernetes or compose secrets); the variable itself wins when both are set.",
        "`govbus config check` lists GOVBUS_* variables in the environment that do not exist",
        "(a misspelling is otherwise silently ignored); workers and gateway warn at start.",
        "",
    ]
    for cls in SETTINGS:
        doc = (cls.__doc__ or "").strip().splitlines()[0]
        lines += [
            f"## {cls.__name__}",
            "",
            doc,
            "",
            "| variable | default | meaning |",
            "|---|---|---|",
        ]
        for name, field in cls.model_fields.items():
            if _secret(field):
                default = "(secret)"
            elif field.default_factory is not None:
                default = "(computed)"
            else:
                default = f"`{field.default}`" if field.default not in (None, "") else "—"
            text = (field.description or "").replace("|", "\\|")
            lines.append(f"| `GOVBUS_{name.upper()}` | {default} | {text} |")
        lines.append("")
    lines += ["## Other variables", "", "| variable | meaning |", "|---|---|"]
    lines += [f"| `{k}` | {v} |" for k, v in OTHER.items()]
    return "\n".join(lines) + "\n"

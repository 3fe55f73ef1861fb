"""The official AsyncAPI 3.0.0 JSON schema, from the @asyncapi/specs npm package (fetched
once into the govbus cache), as a session fixture."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from govbus.config import LocalRuntimeSettings
from govbus_devtools.devenv.packages import ensure_commands

SPECS_VERSION = "6.11.1"


@pytest.fixture(scope="session")
def asyncapi_3_schema() -> dict[str, Any]:
    ensure_commands({"npm": "npm"})
    prefix = LocalRuntimeSettings().cache_dir / "npm"
    path = prefix / "node_modules" / "@asyncapi" / "specs" / "schemas" / "3.0.0-without-$id.json"
    if not path.exists():
        prefix.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                "npm",
                "install",
                "--no-audit",
                "--no-fund",
                "--silent",
                "--prefix",
                str(prefix),
                f"@asyncapi/specs@{SPECS_VERSION}",
            ],
            check=True,
            timeout=300,
        )
    return json.loads(Path(path).read_text())

"""The AsyncAPI document validates against the official AsyncAPI 3.0.0 JSON schema
(from the @asyncapi/specs npm package, fetched once into the govbus cache)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from govbus.config import LocalRuntimeSettings
from govbus.schemas.asyncapi import asyncapi_document
from govbus.schemas.catalogue import default_catalogue
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


def test_catalogue_asyncapi_document_is_valid(asyncapi_3_schema: dict[str, Any]) -> None:
    doc = asyncapi_document(default_catalogue(), version="0.1.0", server="127.0.0.1:19092")
    validator = jsonschema.Draft7Validator(asyncapi_3_schema)
    errors = [f"{list(e.path)}: {e.message[:200]}" for e in validator.iter_errors(doc)]
    assert errors == []
    assert len(doc["channels"]) == len(default_catalogue()) + 2


def test_the_validator_does_reject_a_broken_document(asyncapi_3_schema: dict[str, Any]) -> None:
    doc = asyncapi_document(default_catalogue(), version="0.1.0", server="127.0.0.1:19092")
    del doc["info"]
    assert list(jsonschema.Draft7Validator(asyncapi_3_schema).iter_errors(doc))

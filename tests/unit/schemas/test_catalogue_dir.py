"""A new event type without a release: GOVBUS_CATALOGUE_DIR adds the operator's `.avsc`
files to the shipped catalogue, under the same checks and the same evolution gate, with
their lock kept in that directory (the installed package is never written)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from govbus.schemas.catalogue import CatalogueError, default_catalogue, shipped_dir
from govbus.schemas.gate import gate, lock_path, read_lock, updated_lock, write_lock
from govbus.settings_reference import env_names

NEW = "gov.housing_fund.account_opened"


def new_type(**changes: Any) -> dict[str, Any]:
    schema = json.loads((shipped_dir() / "gov.tax.tax_registered.v1.avsc").read_text())
    schema.update(
        {
            "name": "AccountOpened",
            "namespace": "gov.housing_fund.v1",
            "doc": "A housing provident fund account was opened for an employer.",
            "govbus.type": NEW,
            "govbus.owner": "housing_fund",
            "govbus.legal_basis": "Regulations on Housing Provident Fund art. 14",
            **changes,
        }
    )
    return schema


@pytest.fixture
def extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("GOVBUS_CATALOGUE_DIR", str(tmp_path))
    default_catalogue.cache_clear()
    yield tmp_path
    default_catalogue.cache_clear()


def test_the_catalogue_dir_is_a_documented_setting() -> None:
    assert "GOVBUS_CATALOGUE_DIR" in env_names()


def test_an_event_type_in_the_catalogue_dir_joins_the_shipped_ones(extra: Path) -> None:
    (extra / f"{NEW}.v1.avsc").write_text(json.dumps(new_type()))
    catalogue = default_catalogue()
    added = catalogue.get(NEW)
    assert added is not None
    assert (added.owner, added.topic) == (
        "housing_fund",
        "govbus.events.housing_fund.account_opened.v1",
    )
    assert catalogue.get("gov.health.birth_registered") is not None

    # The gate asks for a lock; `govbus schemas lock` writes it into the directory.
    assert gate(catalogue, read_lock()) == [
        f"{NEW}.v1 is not in the lock file: run 'govbus schemas lock'"
    ]
    shipped_before = lock_path().read_text()
    write_lock(updated_lock(catalogue, read_lock()))
    assert lock_path().read_text() == shipped_before
    assert json.loads((extra / "catalogue.lock.json").read_text()) == {
        f"{NEW}.v1": added.fingerprint.hex()
    }
    assert gate(catalogue, read_lock()) == []
    checked = subprocess.run(
        [sys.executable, "-m", "govbus.cli.main", "schemas", "check"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr

    # Changed after it was locked: refused, as for a shipped type.
    changed = new_type()
    changed["fields"] = changed["fields"][:-1]
    (extra / f"{NEW}.v1.avsc").write_text(json.dumps(changed))
    default_catalogue.cache_clear()
    assert gate(default_catalogue(), read_lock()) == [
        f"{NEW}.v1 changed after publication: add a new version instead"
    ]


@pytest.mark.parametrize(
    ("schema", "problem"),
    [
        (
            new_type(**{"govbus.type": "gov.tax.tax_registered", "govbus.owner": "tax"}),
            "already defined",
        ),
        (new_type(fields=[{"name": "x", "type": "string", "doc": "x"}]), "x is unclassified"),
    ],
    ids=["redefines-a-shipped-type", "unclassified-field"],
)
def test_the_catalogue_dir_is_held_to_the_catalogue_rules(
    extra: Path, schema: dict[str, Any], problem: str
) -> None:
    (extra / "bad.avsc").write_text(json.dumps(schema))
    with pytest.raises(CatalogueError, match=problem):
        default_catalogue()


def test_a_missing_catalogue_dir_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOVBUS_CATALOGUE_DIR", str(tmp_path / "nowhere"))
    default_catalogue.cache_clear()
    try:
        with pytest.raises(CatalogueError, match="is not a directory"):
            default_catalogue()
    finally:
        default_catalogue.cache_clear()

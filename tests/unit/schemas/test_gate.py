"""The evolution gate on the real catalogue files, and on changes it must refuse."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from govbus.schemas.catalogue import Catalogue, CatalogueError, default_catalogue
from govbus.schemas.gate import gate, read_lock, updated_lock

AVRO_DIR = Path(__file__).resolve().parents[3] / "schemas" / "avro"


def load_dir() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text()) for p in AVRO_DIR.glob("*.avsc")}


def catalogue_of(files: dict[str, dict[str, Any]]) -> Catalogue:
    return Catalogue.from_schemas(sorted(files.items()))


def test_the_shipped_catalogue_passes_its_gate() -> None:
    assert gate(default_catalogue(), read_lock()) == []


def with_birth_v3(new_field: dict[str, Any]) -> Catalogue:
    """The shipped catalogue plus a birth_registered v3 that adds ``new_field``."""
    files = load_dir()
    v3 = copy.deepcopy(files["gov.health.birth_registered.v2.avsc"])
    v3["govbus.version"] = 3
    v3["namespace"] = "gov.health.v3"
    v3["fields"].append(new_field)
    files["gov.health.birth_registered.v3.avsc"] = v3
    return catalogue_of(files)


def test_a_new_incompatible_version_is_refused() -> None:
    catalogue = with_birth_v3(
        {
            "name": "apgar_score",
            "type": "int",
            "doc": "Apgar at 5 min.",
            "govbus.class": "sensitive",
        }
    )
    problems = gate(catalogue, updated_lock(catalogue, read_lock()))
    assert any(
        "birth_registered.v3" in p and "apgar_score" in p and "default" in p for p in problems
    ), problems


def test_a_new_compatible_version_passes_once_locked() -> None:
    catalogue = with_birth_v3(
        {
            "name": "apgar_score",
            "type": ["null", "int"],
            "default": None,
            "doc": "Apgar.",
            "govbus.class": "sensitive",
        }
    )
    assert any("not in the lock" in p for p in gate(catalogue, read_lock()))
    assert gate(catalogue, updated_lock(catalogue, read_lock())) == []


def test_editing_a_published_version_is_refused() -> None:
    files = load_dir()
    files["gov.tax.tax_registered.v1.avsc"]["fields"][1]["type"] = ["null", "string"]
    problems = gate(catalogue_of(files), read_lock())
    assert (
        "gov.tax.tax_registered.v1 changed after publication: add a new version instead" in problems
    )


def test_deleting_a_published_version_is_refused() -> None:
    files = load_dir()
    del files["gov.tax.tax_registered.v1.avsc"]
    assert any("is gone" in p for p in gate(catalogue_of(files), read_lock()))


def test_an_unclassified_field_never_reaches_the_gate() -> None:
    files = load_dir()
    del files["gov.tax.tax_registered.v1.avsc"]["fields"][0]["govbus.class"]
    with pytest.raises(CatalogueError, match="credit_code is unclassified"):
        catalogue_of(files)

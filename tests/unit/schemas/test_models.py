"""The typed models cannot drift from the .avsc files, and they encode with the catalogue."""

from __future__ import annotations

import ast
import datetime as dt
from pathlib import Path

import pytest

from govbus.schemas import models
from govbus.schemas.catalogue import default_catalogue
from govbus.schemas.codec import AvroCodec
from govbus.schemas.codegen import generate

CATALOGUE = default_catalogue()


def test_models_py_matches_the_schemas() -> None:
    committed = Path(models.__file__).read_text()
    fresh = generate(CATALOGUE)
    assert ast.dump(ast.parse(committed)) == ast.dump(ast.parse(fresh)), (
        "schemas/models.py is stale: run 'govbus schemas models'"
    )


def test_every_catalogue_version_has_a_model_with_its_fields() -> None:
    assert set(models.MODELS) == {(e.type, e.version) for e in CATALOGUE}
    for (type_name, version), model in models.MODELS.items():
        event = CATALOGUE.get(type_name, version)
        assert event is not None
        assert list(model.model_fields) == [f["name"] for f in event.schema["fields"]]


def test_a_model_instance_encodes_with_its_schema() -> None:
    event = models.TaxRegisteredV1(
        credit_code="91350100M000100Y43",
        tax_authority="Fuzhou Gulou",
        taxpayer_type="GENERAL",
        registered_on=dt.date(2026, 3, 1),
    )
    schema = CATALOGUE.get(event.event_type, event.event_version)
    assert schema is not None
    codec = AvroCodec()
    fp = codec.register(schema.schema)
    assert codec.decode(codec.encode(fp, event.model_dump()))[1] == event.model_dump()


def test_models_refuse_unknown_fields() -> None:
    with pytest.raises(ValueError, match="extra"):
        models.TaxRegisteredV1(
            credit_code="x",
            tax_authority="y",
            taxpayer_type="z",
            registered_on=dt.date(2026, 3, 1),
            shoe_size=42,  # type: ignore[call-arg]
        )

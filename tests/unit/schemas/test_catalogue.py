from __future__ import annotations

import copy
from typing import Any

import pytest

from govbus.schemas.catalogue import Catalogue, CatalogueError, default_catalogue

CATALOGUE = default_catalogue()


def birth_schema() -> dict[str, Any]:
    event = CATALOGUE.get("gov.health.birth_registered")
    assert event is not None
    return copy.deepcopy(event.schema)


def test_seed_catalogue_covers_the_scenarios() -> None:
    assert len(CATALOGUE) >= 10
    assert len({e.owner for e in CATALOGUE}) >= 6
    for event in CATALOGUE:
        assert event.legal_basis
        assert all(f.classification for f in event.fields.values())


def test_unclassified_field_is_refused() -> None:
    schema = birth_schema()
    del schema["fields"][1]["govbus.class"]
    with pytest.raises(CatalogueError, match="baby_name is unclassified"):
        Catalogue.from_schemas([("bad.avsc", schema)])


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda s: s.pop("govbus.legal_basis"), "legal_basis"),
        (lambda s: s.update({"govbus.sharing": "sometimes"}), "govbus.sharing"),
        (lambda s: s.update({"govbus.owner": "Health Dept"}), "govbus.owner"),
        (lambda s: s.update({"govbus.type": "health.birth"}), "invalid event type"),
        (lambda s: s["fields"][0].pop("doc"), "needs a doc"),
        (lambda s: s["fields"][0].update({"govbus.format": "shoe_size"}), "unknown govbus.format"),
        (lambda s: s.update({"govbus.subject": "nope"}), "govbus.subject"),
    ],
)
def test_incomplete_entries_are_refused(mutate: Any, message: str) -> None:
    schema = birth_schema()
    mutate(schema)
    with pytest.raises(CatalogueError, match=message):
        Catalogue.from_schemas([("bad.avsc", schema)])


def test_lookup_by_fingerprint_and_latest() -> None:
    v1 = CATALOGUE.get("gov.health.birth_registered", 1)
    v2 = CATALOGUE.get("gov.health.birth_registered", 2)
    assert v1 is not None
    assert v2 is not None
    assert CATALOGUE.by_fingerprint(v1.fingerprint) is v1
    assert CATALOGUE.latest("gov.health.birth_registered") is v2
    assert CATALOGUE.get("gov.health.birth_registered") is v2
    assert v1.topic == "govbus.events.health.birth_registered.v1"
    assert v2.topic == "govbus.events.health.birth_registered.v2"

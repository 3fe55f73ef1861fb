"""The request preview: exactly what the worker would deliver for a sample event, field by
field, with the same masking operators and the subscriber's keyed pseudonyms."""

from __future__ import annotations

import pytest

from govbus.gateway.console.catalogue_view import catalogue_rows, type_row
from govbus.gateway.console.preview import preview, rules_for, sample_record
from govbus.masking import mask_citizen_id, mask_name
from govbus.schemas.catalogue import default_catalogue
from govbus.schemas.identifiers import check_citizen_id

CATALOGUE = default_catalogue()
BIRTH = CATALOGUE.latest("gov.health.birth_registered")


def pseudo(kind: str, value: str) -> str:
    return f"p({kind},{value})"


def test_every_type_has_a_complete_sample() -> None:
    for event in CATALOGUE:
        record = sample_record(event)
        assert set(record) == set(event.fields)


def test_sample_identifiers_are_valid() -> None:
    assert BIRTH is not None
    record = sample_record(BIRTH)
    ids = [v for n, v in record.items() if BIRTH.fields[n].format == "citizen_id"]
    assert ids
    assert all(check_citizen_id(v) is None for v in ids)


def test_the_preview_masks_as_the_worker_does_and_shows_nothing_not_requested() -> None:
    assert BIRTH is not None
    wanted = {
        "baby_name": "mask",
        "mother_id": "pseudonym",
        "birth_date": "generalize.year_month",
        "certificate_no": "clear",
    }
    rows = {r.field: r for r in preview(BIRTH, wanted, pseudo)}
    assert set(rows) == set(BIRTH.fields)
    assert rows["baby_name"].received == mask_name(rows["baby_name"].sample)
    assert rows["mother_id"].received == pseudo("citizen_id", rows["mother_id"].sample)
    assert rows["birth_date"].received == "2026-11"
    assert rows["certificate_no"].received == rows["certificate_no"].sample
    for name, row in rows.items():
        assert row.requested == (name in wanted)
        if name not in wanted:
            assert row.received is None
            assert row.rule == ""
    assert mask_citizen_id("11010519491231002X") == "110105********002X"


def test_a_field_not_in_the_type_is_ignored() -> None:
    assert BIRTH is not None
    rows = preview(BIRTH, {"no_such_field": "clear"}, pseudo)
    assert not any(r.requested for r in rows)


@pytest.mark.parametrize("event", list(CATALOGUE), ids=lambda e: e.ce_type)
def test_every_offered_rule_previews(event: object) -> None:
    """Each rule the form offers for a field can be applied to the sample without error."""
    from govbus.schemas.catalogue import EventType  # noqa: PLC0415

    assert isinstance(event, EventType)
    for name, spec in event.fields.items():
        for rule in rules_for(spec):
            (row,) = [r for r in preview(event, {name: rule}, pseudo) if r.field == name]
            assert row.requested
            assert row.rule == rule


def test_the_catalogue_view_lists_every_type_with_versions_and_compatibility() -> None:
    rows = catalogue_rows(CATALOGUE)
    assert {r.type for r in rows} == set(CATALOGUE.types())
    birth = type_row(CATALOGUE, "gov.health.birth_registered")
    assert birth is not None
    assert [v.version for v in birth.versions] == [1, 2]
    assert birth.versions[1].compatibility in ("BACKWARD", "FORWARD", "FULL", "NONE")
    assert birth.versions[1].problems == []  # the schema gate keeps the catalogue compatible
    assert birth.sharing == "conditional"
    assert type_row(CATALOGUE, "gov.no.such") is None

"""Pure parts of the trust features: licence status, and which pseudonyms a presented
identifier is looked up under."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import SecretStr

from govbus.config import KeySettings
from govbus.disclosures import Disclosure, subject_pseudonyms
from govbus.licences import LicenceState, status
from govbus.pseudonym import Pseudonymizer
from govbus.schemas.catalogue import default_catalogue

D = dt.date
TODAY = D(2026, 11, 23)


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (None, "unknown"),
        (LicenceState(None, None, None), "unknown"),
        (LicenceState(D(2026, 1, 1), None, None), "valid"),
        (LicenceState(D(2026, 1, 1), D(2026, 11, 23), None), "valid"),  # last day
        (LicenceState(D(2026, 1, 1), D(2026, 11, 22), None), "expired"),
        (LicenceState(D(2026, 12, 1), None, None), "not_yet_valid"),
        (LicenceState(D(2026, 1, 1), None, D(2026, 11, 23)), "revoked"),
        (LicenceState(D(2026, 1, 1), None, D(2026, 12, 1)), "valid"),  # revoked from a later date
        (LicenceState(None, None, D(2026, 5, 1)), "revoked"),  # revocation seen before the issue
        (LicenceState(D(2026, 1, 1), D(2026, 3, 1), D(2026, 2, 1)), "revoked"),  # revoked wins
    ],
)
def test_licence_status(state: LicenceState | None, expected: str) -> None:
    assert status(state, TODAY) == expected


def test_an_identifier_is_looked_up_under_the_kinds_it_is_valid_for() -> None:
    p = Pseudonymizer(KeySettings(subject_key=SecretStr("k")))
    catalogue = default_catalogue()
    citizen = subject_pseudonyms(p, catalogue, "11010519491231002X")
    assert p.subject("citizen_id", "11010519491231002X") in citizen
    assert p.subject("credit_code", "11010519491231002X") not in citizen  # not a valid USCC
    company = subject_pseudonyms(p, catalogue, "91350100M000100Y43")
    assert p.subject("credit_code", "91350100M000100Y43") in company
    assert p.subject("citizen_id", "91350100M000100Y43") not in company
    certificate = subject_pseudonyms(p, catalogue, "Q1234567890")
    assert p.subject("certificate_no", "Q1234567890") in certificate
    assert all("11010519491231002X" not in s for s in citizen)


@pytest.mark.parametrize(
    ("source", "peer"), [("health", None), ("province_a/health", "province_a")]
)
def test_a_disclosure_says_when_the_data_came_from_another_province(
    source: str, peer: str | None
) -> None:
    at = dt.datetime(2026, 11, 23, 9, tzinfo=dt.UTC)
    row = Disclosure(
        "d1", "e1", "gov.health.birth_registered", source, "public_security", "s1",
        {"mother_id": "mask"}, "basis", "purpose", at, None, None, None, None, "",
    )  # fmt: skip
    shown = row.to_json()
    assert (row.from_peer, shown["from_peer"], shown["source"]) == (peer, peer, source)
    assert shown["delivered_at"] == at.isoformat()

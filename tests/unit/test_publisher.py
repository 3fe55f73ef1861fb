"""The publisher SDK's encoder, without Kafka: what it refuses before anything is sent."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable

import pytest

from govbus.adapters.publisher import EventEncoder, PublishError
from govbus.config import KeySettings
from govbus.demo.sample_data import birth
from govbus.pseudonym import Pseudonymizer
from govbus.schemas.catalogue import default_catalogue
from tests.corpus import X_ID, full_width

BIRTH = "gov.health.birth_registered"
TODAY = dt.date(2026, 6, 1)


def encoder() -> EventEncoder:
    return EventEncoder("health", default_catalogue(), Pseudonymizer(KeySettings()))


@pytest.mark.parametrize(
    ("field", "bad", "reason"),
    [
        ("mother_id", lambda v: v + "\n", "identifier.citizen_id"),
        ("mother_id", lambda v: v[:2] + full_width(v[2:17]) + v[17], "identifier.citizen_id"),
        ("mother_id", lambda _: X_ID.lower(), "identifier.citizen_id"),
        ("mother_id", lambda v: " " + v, "identifier.citizen_id"),
        ("certificate_no", lambda v: v + "\u3000", "identifier.certificate_no"),
        ("guardian_phone", lambda v: v + "\n", "identifier.mobile"),
        ("birth_region", full_width, "identifier.region_code"),
    ],
    ids=[
        "trailing-newline",
        "full-width-digits",
        "lower-case-x",
        "leading-space",
        "ideographic-space",
        "mobile-newline",
        "full-width-region",
    ],
)
def test_the_sdk_refuses_identifiers_in_a_non_canonical_form(
    field: str, bad: Callable[[str], str], reason: str
) -> None:
    data = birth(random.Random(1), TODAY)
    data[field] = bad(data[field])
    with pytest.raises(PublishError) as refused:
        encoder().prepare(BIRTH, data)
    assert refused.value.reason == reason
    assert data[field] not in str(refused.value)

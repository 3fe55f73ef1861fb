"""The publisher SDK's encoder, without Kafka: what it refuses before anything is sent."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from collections.abc import Callable

import pytest

from govbus.adapters.publisher import PARTITION_BUCKETS, EventEncoder, PublishError, partition_key
from govbus.schemas.catalogue import default_catalogue
from govbus_devtools.demo.sample_data import birth
from tests.corpus import X_ID, full_width

BIRTH = "gov.health.birth_registered"
TODAY = dt.date(2026, 6, 1)
NOW = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)


def encoder() -> EventEncoder:
    return EventEncoder("health", default_catalogue())


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


def test_publishing_needs_no_bus_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bus computes the subject: what the SDK sends is the same whatever subject key is
    (or is not) configured, so no department needs the bus's key, nor falls back to the
    development one."""
    data = birth(random.Random(2), TODAY)
    sent = []
    for key in (None, "one-secret", "another-secret"):
        if key is None:
            monkeypatch.delenv("GOVBUS_SUBJECT_KEY", raising=False)
        else:
            monkeypatch.setenv("GOVBUS_SUBJECT_KEY", key)
        prepared = encoder().prepare(BIRTH, data, event_id="e-1", time=NOW)
        sent.append((prepared.key, prepared.headers))
    assert sent[0] == sent[1] == sent[2]
    assert "ce_subject" not in dict(sent[0][1])


def test_the_partition_key_is_stable_per_subject_and_names_no_one() -> None:
    data = birth(random.Random(3), TODAY)
    first = encoder().prepare(BIRTH, data, time=NOW)
    again = encoder().prepare(BIRTH, {**data, "baby_name": "王小红"}, time=NOW)
    assert first.key == again.key == partition_key("certificate_no", data["certificate_no"])
    assert data["certificate_no"].encode() not in first.key
    # A bucket: many subjects share one, so trying every value ends in a crowd; and they
    # spread over all of them (partitions stay balanced).
    buckets = Counter(partition_key("citizen_id", f"{i:018d}") for i in range(300_000))
    assert set(buckets) <= {f"b{b:04x}".encode() for b in range(PARTITION_BUCKETS)}
    assert len(buckets) > 0.95 * PARTITION_BUCKETS

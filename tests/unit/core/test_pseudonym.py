"""Keyed pseudonyms: per-subscriber keys (no joins across departments), and rotation by key
id (a pseudonym names the key that made it; the old key still reproduces old pseudonyms)."""

from __future__ import annotations

import base64
import uuid

from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from govbus.config import KeySettings
from govbus.pseudonym import Pseudonymizer, _b32
from tests.keys import unkeyed_delivery_id

OLD = KeySettings(
    pseudonym_key=SecretStr("old-master"), pseudonym_key_id="k2025", subject_key=SecretStr("s1")
)
NEW = KeySettings(
    pseudonym_key=SecretStr("new-master"), pseudonym_key_id="k2026", subject_key=SecretStr("s1")
)
ids = st.from_regex(r"\A[0-9]{17}[0-9X]\Z")


@given(ids)
def test_stable_per_subscriber_and_different_across_subscribers(value: str) -> None:
    p = Pseudonymizer(OLD)
    assert p.for_subscriber("tax", "citizen_id", value) == p.for_subscriber(
        "tax", "citizen_id", value
    )
    assert p.for_subscriber("tax", "citizen_id", value) != p.for_subscriber(
        "hrss", "citizen_id", value
    )
    assert value not in p.for_subscriber("tax", "citizen_id", value)


@given(ids)
def test_rotation_changes_pseudonyms_and_names_the_key(value: str) -> None:
    old, new = Pseudonymizer(OLD), Pseudonymizer(NEW)
    before = old.for_subscriber("tax", "citizen_id", value)
    after = new.for_subscriber("tax", "citizen_id", value)
    assert before.startswith("k2025.")
    assert after.startswith("k2026.")
    assert before.split(".")[1] != after.split(".")[1]
    # Whoever holds the old key (the bus operator, on a lawful request) can still relate them.
    assert Pseudonymizer(OLD).for_subscriber("tax", "citizen_id", value) == before


def test_the_same_master_under_a_new_key_id_is_a_new_key() -> None:
    renamed = KeySettings(pseudonym_key=SecretStr("old-master"), pseudonym_key_id="k2025b")
    value = "11010519491231002X"
    assert (
        Pseudonymizer(renamed).for_subscriber("tax", "citizen_id", value).split(".")[1]
        != (Pseudonymizer(OLD).for_subscriber("tax", "citizen_id", value).split(".")[1])
    )


@given(st.text(min_size=1, max_size=64), st.sampled_from(["health", "province_a/health"]))
def test_delivery_ids_are_stable_per_subscriber_and_keyed(event_id: str, source: str) -> None:
    p = Pseudonymizer(OLD)
    a = p.delivery_id("tax", source, event_id)
    assert a == p.delivery_id("tax", source, event_id)  # redeliveries, corrections, peers
    assert a != p.delivery_id("hrss", source, event_id)
    assert a != p.delivery_id("tax", source, event_id + "x")
    assert a != unkeyed_delivery_id("tax", source, event_id)
    other_key = Pseudonymizer(OLD.model_copy(update={"delivery_id_key": SecretStr("other")}))
    assert a != other_key.delivery_id("tax", source, event_id)
    # Unaffected by pseudonym key rotation: a correction after it names the same original.
    assert a == Pseudonymizer(NEW).delivery_id("tax", source, event_id)
    parsed = uuid.UUID(a)
    assert (parsed.version, parsed.variant) == (8, uuid.RFC_4122)


@given(st.binary(min_size=32, max_size=32))
def test_the_fast_base32_is_the_standard_one(digest: bytes) -> None:
    assert _b32(digest) == base64.b32encode(digest).decode().rstrip("=").lower()[:26]


@given(st.text(max_size=40), st.text(max_size=40))
def test_a_delivery_id_is_a_version_8_uuid_as_the_uuid_module_writes_it(
    source: str, event_id: str
) -> None:
    made = Pseudonymizer(KeySettings()).delivery_id("tax", source, event_id)
    assert str(uuid.UUID(made)) == made
    assert uuid.UUID(made).version == 8

"""If-Match against a stored policy entry (RFC 9110), and the per-entry lock ids."""

from __future__ import annotations

from govbus import policy_store
from govbus.gateway.policy_writes import lock_id, matches
from govbus.policy import Subscription

SUB = Subscription.model_validate(
    {
        "id": "hr-1",
        "subscriber": "hrss",
        "event_types": ["gov.tax.tax_registered"],
        "fields": {"credit_code": "clear"},
        "legal_basis": "law",
        "purpose": "register",
    }
)


def test_if_match_is_the_current_etag_any_of_a_list_or_a_star() -> None:
    tag = policy_store.etag(SUB)
    assert matches(None, SUB)
    assert matches(None, None)  # no condition: the route decides (404 or create)
    assert matches(tag, SUB)
    assert matches(f'"other", {tag}', SUB)
    assert matches(f"W/{tag}", SUB)
    assert matches("*", SUB)
    assert not matches('"other"', SUB)
    assert not matches("*", None)
    assert not matches(tag, None)


def test_any_change_changes_the_etag() -> None:
    revoked = policy_store.revoked(SUB, "purpose met")
    assert policy_store.etag(revoked) != policy_store.etag(SUB)
    assert policy_store.etag(SUB.model_copy()) == policy_store.etag(SUB)


def test_lock_ids_are_stable_32_bit_ints() -> None:
    assert lock_id("hr-1") == lock_id("hr-1")
    assert lock_id("hr-1") != lock_id("hr-2")
    assert all(-(2**31) <= lock_id(k) < 2**31 for k in ("a", "inbound:p:x", "z" * 80))

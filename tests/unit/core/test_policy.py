from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from govbus.errors import ConfigError
from govbus.policy import Subscription, is_live, parse_policy, validate
from govbus.schemas.catalogue import default_catalogue

CATALOGUE = default_catalogue()
NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
APPROVAL = {"approver": "hc", "approved_at": "2026-01-01T00:00:00Z"}


def sub(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "s1",
        "subscriber": "public_security",
        "event_types": ["gov.health.birth_registered"],
        "fields": {"baby_name": "clear"},
        "legal_basis": "law",
        "purpose": "register",
        "approval": APPROVAL,
    }
    base.update(over)
    return base


def problems(*subs: dict[str, Any]) -> list[str]:
    return validate(parse_policy({"subscriptions": list(subs)}), CATALOGUE)


def test_valid_policy_has_no_problems() -> None:
    assert problems(sub()) == []


@pytest.mark.parametrize(
    ("over", "expected"),
    [
        ({"event_types": ["gov.health.nothing"]}, "unknown event type"),
        ({"fields": {"shoe_size": "clear"}}, "has no field shoe_size"),
        ({"fields": {"weight_g": "mask"}}, "no display mask"),
        ({"fields": {"baby_name": "generalize.year"}}, "needs a date field"),
        ({"fields": {"hospital": "generalize.district"}}, "neither"),
        ({"approval": None}, "needs the provider's approval"),
        ({"filter": {"field": "nope", "eq": 1}}, "has no field nope"),
        (
            {"fields": {"sex": "clear"}, "filter": {"field": "sex", "eq": "MALE", "ne": "FEMALE"}},
            "exactly one operator",
        ),
    ],
)
def test_policy_problems_are_named(over: dict[str, Any], expected: str) -> None:
    found = problems(sub(**over))
    assert any(expected in p for p in found), found


def test_duplicate_subscription_ids() -> None:
    assert any("duplicate id" in p for p in problems(sub(), sub()))


def test_deep_filters_are_bounded() -> None:
    node: dict[str, Any] = {"field": "sex", "eq": "MALE"}
    for _ in range(6):
        node = {"all": [node]}
    assert any("deeper" in p for p in problems(sub(fields={"sex": "clear"}, filter=node)))


def test_structural_errors_raise_config_error() -> None:
    with pytest.raises(ConfigError, match="fields"):
        parse_policy({"subscriptions": [sub(fields={"baby_name": "scramble"})]})
    with pytest.raises(ConfigError):
        parse_policy({"subscriptions": [sub(subscriber="Public Security")]})


@pytest.mark.parametrize(
    ("over", "live"),
    [
        ({}, True),
        ({"status": "revoked"}, False),
        ({"status": "pending"}, False),
        ({"expires": "2026-05-31T00:00:00Z"}, False),
        ({"expires": "2026-06-02T00:00:00Z"}, True),
        ({"approval": None}, False),
        ({"event_types": ["gov.tax.tax_registered"]}, False),
    ],
)
def test_is_live(over: dict[str, Any], live: bool) -> None:
    event = CATALOGUE.get("gov.health.birth_registered")
    assert event is not None
    assert is_live(Subscription.model_validate(sub(**over)), event, NOW) is live


def test_unconditional_types_need_no_approval() -> None:
    event = CATALOGUE.get("gov.market_regulation.enterprise_registered")
    assert event is not None
    s = Subscription.model_validate(
        sub(event_types=[event.type], fields={"name": "clear"}, approval=None)
    )
    assert is_live(s, event, NOW)


def two_providers(*approvals: dict[str, Any]) -> Subscription:
    """A request for public security's and health's conditional data in one subscription."""
    return Subscription.model_validate(
        sub(
            event_types=["gov.public_security.household_cancelled", "gov.health.death_registered"],
            fields={"citizen_id": "clear"},
            approval=None,
            approvals=list(approvals),
        )
    )


@pytest.mark.parametrize(
    ("providers", "live_for"),
    [
        ([], set()),
        (["public_security"], {"public_security"}),
        (["health"], {"health"}),
        (["public_security", "health"], {"public_security", "health"}),
        (["tax"], set()),  # not a provider of either type: its approval reaches nothing
        ([None], {"public_security", "health"}),  # recorded in a file by the operator
    ],
)
def test_each_conditional_type_is_live_only_with_its_own_providers_approval(
    providers: list[str | None], live_for: set[str]
) -> None:
    s = two_providers(*({**APPROVAL, "provider": p} for p in providers))
    for type_name in s.event_types:
        event = CATALOGUE.get(type_name)
        assert event is not None
        assert is_live(s, event, NOW) is (event.owner in live_for), (type_name, providers)


def test_a_single_approval_in_a_file_reads_as_a_list_of_one() -> None:
    s = Subscription.model_validate(sub(approval={**APPROVAL, "provider": "health"}))
    assert [a.provider for a in s.approvals] == ["health"]
    assert "approval" not in s.model_dump(exclude_none=True)


@pytest.mark.parametrize(
    ("fields", "node", "expected"),
    [
        # Not granted at all: the filter would reveal diagnoses through which events arrive.
        ({"baby_name": "clear"}, {"field": "health_status", "eq": "healthy"}, "not granted"),
        (
            {"baby_name": "clear"},
            {"not": {"all": [{"field": "gestation_weeks", "lt": 37}]}},
            "not granted",
        ),
        # Granted, but not in clear: the filter would test the value behind the mask.
        (
            {"mother_id": "pseudonym"},
            {"field": "mother_id", "eq": "110105199203141465"},
            "pseudonym",
        ),
        ({"mother_id": "mask"}, {"field": "mother_id", "prefix": "3201"}, "mask"),
        ({"birth_date": "generalize.year"}, {"field": "birth_date", "ge": 20260315}, "generalize"),
        ({"weight_g": "redact"}, {"field": "weight_g", "lt": 2500}, "redact"),
    ],
)
def test_a_filter_may_test_only_fields_the_subscription_receives_in_clear(
    fields: dict[str, str], node: dict[str, Any], expected: str
) -> None:
    found = problems(sub(fields=fields, filter=node))
    assert any("filter" in p and expected in p for p in found), found


def test_a_filter_on_fields_received_in_clear_is_fine() -> None:
    node = {"all": [{"field": "birth_region", "prefix": "1101"}, {"field": "sex", "eq": "MALE"}]}
    assert problems(sub(fields={"birth_region": "clear", "sex": "clear"}, filter=node)) == []

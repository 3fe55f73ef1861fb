from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given

from govbus.policy import Condition, Filter, Subscription
from govbus.schemas.catalogue import default_catalogue
from govbus.streams.routing import matches, route
from tests.strategies import records

RECORD: dict[str, Any] = {
    "birth_region": "110108",
    "weight_g": 2400,
    "sex": "FEMALE",
    "birth_date": dt.date(2026, 5, 1),
    "father_id": None,
}


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        ({"field": "birth_region", "prefix": "11"}, True),
        ({"field": "birth_region", "prefix": "31"}, False),
        ({"field": "weight_g", "lt": 2500}, True),
        ({"field": "weight_g", "ge": 2500}, False),
        ({"field": "sex", "in": ["MALE", "FEMALE"]}, True),
        ({"field": "sex", "ne": "FEMALE"}, False),
        ({"field": "birth_date", "prefix": "2026-05"}, True),
        ({"field": "father_id", "eq": "x"}, False),
        ({"field": "father_id", "ne": "x"}, True),
        ({"field": "sex", "lt": 3}, False),
        (
            {"all": [{"field": "birth_region", "prefix": "11"}, {"field": "weight_g", "lt": 2500}]},
            True,
        ),
        (
            {"any": [{"field": "birth_region", "prefix": "31"}, {"field": "weight_g", "lt": 2000}]},
            False,
        ),
        ({"not": {"field": "birth_region", "prefix": "31"}}, True),
    ],
)
def test_filter_semantics(node: dict[str, Any], expected: bool) -> None:
    parsed: Filter | Condition = (
        Condition.model_validate(node) if "field" in node else Filter.model_validate(node)
    )
    assert matches(parsed, RECORD) is expected


def test_route_applies_liveness_and_filter() -> None:
    event = default_catalogue().get("gov.health.birth_registered")
    assert event is not None
    common: dict[str, Any] = {
        "event_types": [event.type],
        "fields": {"sex": "clear", "birth_region": "clear"},
        "legal_basis": "law",
        "purpose": "testing",
        "approval": {"approver": "a", "approved_at": "2026-01-01T00:00:00Z"},
    }
    subs = [
        Subscription.model_validate({**common, "id": "s-a", "subscriber": "aa"}),
        Subscription.model_validate(
            {
                **common,
                "id": "s-b",
                "subscriber": "bb",
                "filter": {"field": "birth_region", "prefix": "31"},
            }
        ),
        Subscription.model_validate(
            {**common, "id": "s-c", "subscriber": "cc", "status": "revoked"}
        ),
    ]
    now = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    assert [s.id for s in route(subs, event, RECORD, now)] == ["s-a"]


BIRTH = default_catalogue().latest("gov.health.birth_registered")
assert BIRTH is not None
# A subscription that receives the region in clear, the mother's ID only masked, and no
# health data; its filter tries to test all three (as a policy that bypassed validation).
PEEKING = Subscription.model_validate(
    {
        "id": "peek",
        "subscriber": "aa",
        "event_types": [BIRTH.type],
        "fields": {"birth_region": "clear", "mother_id": "mask"},
        "filter": {
            "any": [
                {"field": "health_status", "eq": "healthy"},
                {"field": "mother_id", "prefix": "3201"},
                {
                    "all": [
                        {"field": "birth_region", "prefix": "11"},
                        {"field": "weight_g", "lt": 2500},
                    ]
                },
            ]
        },
        "legal_basis": "law",
        "purpose": "testing",
        "approval": {"approver": "a", "approved_at": "2026-01-01T00:00:00Z"},
    }
)


@given(first=records(BIRTH), second=records(BIRTH))
def test_whether_an_event_arrives_never_depends_on_what_is_not_received_in_clear(
    first: dict[str, Any], second: dict[str, Any]
) -> None:
    """The filter sees what the subscriber receives in clear, nothing else: two events that
    look the same to the subscriber are routed the same, so arrival reveals nothing."""
    now = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    second = {**second, "birth_region": first["birth_region"]}
    assert route([PEEKING], BIRTH, first, now) == route([PEEKING], BIRTH, second, now)


def test_a_filter_on_a_hidden_field_never_matches() -> None:
    now = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    sick = {"birth_region": "110108", "health_status": "healthy", "weight_g": 2000}
    assert route([PEEKING], BIRTH, sick, now) == []
    assert route([PEEKING], BIRTH, {**sick, "mother_id": "320102198801011234"}, now) == []

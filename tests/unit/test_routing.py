from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from govbus.policy import Condition, Filter, Subscription
from govbus.schemas.catalogue import default_catalogue
from govbus.streams.routing import matches, route

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
        "fields": {"sex": "clear"},
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

"""Which subscriptions receive an event: policy state, sharing type, expiry and content filter.
Pure functions; the filter language is declarative and bounded (see govbus.policy)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from govbus.policy import Condition, Filter, Subscription, is_live
from govbus.schemas.catalogue import EventType


def route(
    subs: Iterable[Subscription], event: EventType, record: Mapping[str, Any], now: dt.datetime
) -> list[Subscription]:
    return [
        s
        for s in subs
        if is_live(s, event, now) and (s.filter is None or matches(s.filter, record))
    ]


def matches(node: Filter | Condition, record: Mapping[str, Any]) -> bool:
    if isinstance(node, Condition):
        return _test(node, record.get(node.field))
    if node.all is not None:
        return all(matches(child, record) for child in node.all)
    if node.any is not None:
        return any(matches(child, record) for child in node.any)
    if node.not_ is not None:
        return not matches(node.not_, record)
    return False


def _test(cond: Condition, value: Any) -> bool:
    op, expected = cond.operator()
    if value is None:
        return op == "ne" and expected is not None
    if isinstance(value, dt.date):
        value = value.isoformat()
    if op == "eq":
        return bool(value == expected)
    if op == "ne":
        return bool(value != expected)
    if op == "in":
        return bool(value in expected)
    if op == "prefix":
        return str(value).startswith(str(expected))
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    bound = float(expected)
    return {"lt": value < bound, "le": value <= bound, "gt": value > bound, "ge": value >= bound}[
        op
    ]

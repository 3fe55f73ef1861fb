"""Which subscriptions receive an event: policy state, sharing type, expiry and content filter.
Pure functions; the filter language is declarative and bounded (see govbus.policy).

A filter sees only what its subscription receives in clear (``filter_view``): whether an
event arrives must reveal nothing the subscription was not granted in clear."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from govbus.policy import Condition, Filter, Subscription, is_live
from govbus.schemas.catalogue import EventType
from govbus.schemas.projection import CLEAR
from govbus.streams.messages import Recipients


def route(
    subs: Iterable[Subscription], event: EventType, record: Mapping[str, Any], now: dt.datetime
) -> list[Subscription]:
    return [
        s
        for s in subs
        if is_live(s, event, now)
        and (s.filter is None or matches(s.filter, filter_view(s, record)))
    ]


def filter_view(sub: Subscription, record: Mapping[str, Any]) -> dict[str, Any]:
    """The fields ``sub`` receives in clear, as it receives them (the record's values: for an
    event from a peer, already as the peer masked them). Validation refuses filters on
    other fields; this makes sure no policy that slipped past it can test them either."""
    return {name: record.get(name) for name, rule in sub.fields.items() if rule == CLEAR}


@dataclass(frozen=True)
class Rejection:
    reason: str
    message: str


def correction_targets(
    subs: Iterable[Subscription],
    event: EventType,
    original: Recipients | None,
    now: dt.datetime,
) -> list[Subscription] | Rejection:
    """A correction goes to exactly the subscriptions that received the original and are
    still live: not to newcomers, and regardless of the content filter (the recipients hold
    the wrong fact whatever the new facts say)."""
    if original is None:
        return Rejection(
            "correction.unknown_original",
            "no delivery of the corrected event is known (unknown id, another source, or past "
            "the correction window)",
        )
    if original.event_type != event.type:
        return Rejection(
            "correction.type_mismatch",
            f"corrects a {original.event_type} event with a {event.type} event",
        )
    received = set(original.subscriptions)
    return [s for s in subs if s.id in received and is_live(s, event, now)]


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

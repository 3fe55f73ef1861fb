"""Every Kafka topic name govbus uses, derived in one place (never taken raw from a client)."""

from __future__ import annotations

import re
from typing import Literal

# Lanes: every event type has a topic per lane. Real-time traffic (HTTP ingest, the outbox,
# the SDK by default) and bulk loads (batch files) are read by separate runners, so a bulk
# backlog never stands in front of a real-time event (docs/delivery-guarantees.md).
Lane = Literal["realtime", "bulk"]
REALTIME: Lane = "realtime"
BULK: Lane = "bulk"
LANES: tuple[Lane, ...] = (REALTIME, BULK)
EVENTS_PREFIX = "govbus.events."
BULK_PREFIX = "govbus.bulk."
LANE_PREFIXES: dict[Lane, str] = {REALTIME: EVENTS_PREFIX, BULK: BULK_PREFIX}
DELIVER_PREFIX = "govbus.deliver."
DLQ = "govbus.dlq"
AUDIT = "govbus.audit"
POLICY = "govbus.policy"
PROGRESS = "govbus.progress"
SCHEMAS = "govbus.schemas"
TASKS = "govbus.tasks"  # one partition per worker task (streams/tasks.py)

_PARTY_RE = re.compile(r"[a-z][a-z0-9_]{1,62}", re.ASCII)
_TYPE_RE = re.compile(r"gov\.([a-z][a-z0-9_]*)\.([a-z][a-z0-9_]*)", re.ASCII)


def check_party_id(party: str) -> str:
    """Department / subscriber ids: lowercase snake case, safe inside topic and group names."""
    if not _PARTY_RE.fullmatch(party):
        raise ValueError(f"invalid department id {party!r}: use [a-z][a-z0-9_]{{1,62}}")
    return party


def check_source(source: str) -> str:
    """An event's source: a department id, or ``<peer>/<department>`` for an event that came
    from a federated bus (the peer is this bus's name for the other province)."""
    peer, slash, department = source.rpartition("/")
    if slash:
        check_party_id(peer)
    check_party_id(department)
    return source


def split_source(source: str) -> tuple[str | None, str]:
    """'province_a/health' -> ('province_a', 'health'); 'health' -> (None, 'health')."""
    peer, slash, department = source.rpartition("/")
    return (peer if slash else None), department


def split_type(event_type: str) -> tuple[str, str]:
    """'gov.health.birth_registered' -> ('health', 'birth_registered')."""
    match = _TYPE_RE.fullmatch(event_type)
    if match is None:
        raise ValueError(f"invalid event type {event_type!r}: expected gov.<domain>.<event>")
    return match.group(1), match.group(2)


def check_lane(lane: str) -> Lane:
    if lane not in LANES:
        raise ValueError(f"invalid lane {lane!r}: use one of {', '.join(LANES)}")
    return lane


def event_topic(event_type: str, version: int, lane: Lane = REALTIME) -> str:
    domain, event = split_type(event_type)
    return f"{LANE_PREFIXES[check_lane(lane)]}{domain}.{event}.v{version}"


def lane_of(topic: str) -> Lane | None:
    """The lane of an event topic; None for any other topic."""
    for lane, prefix in LANE_PREFIXES.items():
        if topic.startswith(prefix):
            return lane
    return None


def delivery_topic(subscriber: str) -> str:
    return DELIVER_PREFIX + check_party_id(subscriber)


def consumer_group(subscriber: str, name: str = "gateway") -> str:
    """Consumer groups of a subscriber share its prefix, which Kafka ACLs grant."""
    return f"{check_party_id(subscriber)}.{name}"

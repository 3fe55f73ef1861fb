"""What a demo run found, as plain data: the shape of ``govbus demo --json`` (one source of
truth for the console, JSON and HTML renderings)."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any


def ms_since(audit_at: str, published_at: float) -> float:
    """Milliseconds from a publish (wall clock) to an audit record's time."""
    return round((dt.datetime.fromisoformat(audit_at).timestamp() - published_at) * 1000, 1)


@dataclass
class FieldSeen:
    rule: str  # the masking rule the delivery schema declares for the field
    value: Any  # as the subscriber received it (JSON)


@dataclass
class DeliverySeen:
    """One delivery, as the subscribing department read it through the gateway."""

    subscriber: str
    subscription: str
    delivery_id: str
    fields: dict[str, FieldSeen]
    legal_basis: str
    purpose: str
    delivered_ms: float  # publish -> the worker's committed delivery (its audit record)
    read_ms: float  # publish -> the subscriber's pull returned it
    corrects: str | None = None  # the subscriber's delivery id of the corrected event
    # The delivery's own trace (its traceparent as read): one per recipient, linked to the
    # event's processing, so two departments' copies share no trace id.
    trace_id: str = ""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeliverySeen:
        fields = {name: FieldSeen(**seen) for name, seen in data["fields"].items()}
        return cls(**{**data, "fields": fields})


@dataclass
class EventOutcome:
    step: str
    scenario: str
    title: str
    channel: str
    source: str
    type: str
    event_id: str
    correlation_id: str
    published: dict[str, Any]  # the facts as the publisher sent them (JSON)
    expected: str  # delivered | dead_letter: what the scenario means to show
    outcome: str  # delivered | dead_letter | missing (no outcome in the audit in time)
    reason: str = ""  # why it was dead-lettered
    corrects: str | None = None  # event id of the corrected event
    duplicates: int = 0  # repeats the bus recognised and did not deliver again
    trace_id: str = ""
    deliveries: list[DeliverySeen] = field(default_factory=list)


@dataclass
class AccessCheck:
    """Something a department tries for real: refused when it has no grant (and one control
    that must be allowed, so a bus that refuses everything does not pass)."""

    who: str
    attempt: str
    expected: str  # refused | allowed
    outcome: str  # refused | allowed | timeout
    answer: str  # the status or error code the bus answered with
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome == self.expected


@dataclass
class DemoReport:
    started_at: str
    policy: str
    setup_s: float
    scenarios_s: float
    scenarios: dict[str, str]  # key -> title
    events: list[EventOutcome] = field(default_factory=list)
    access: list[AccessCheck] = field(default_factory=list)
    # Disclosure reports, licence checks and correction follow-up, as the gateway answered.
    trust: dict[str, Any] = field(default_factory=dict)
    # The cross-province case: what province B's bus did with what this bus delivered to it.
    federation: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # anything that went wrong in the run

    @property
    def totals(self) -> dict[str, int]:
        return {
            "published": len(self.events),
            "delivered": sum(len(e.deliveries) for e in self.events),
            "duplicate": sum(e.duplicates for e in self.events),
            "dead_letter": sum(e.outcome == "dead_letter" for e in self.events),
            "missing": sum(e.outcome == "missing" for e in self.events),
            "access_checks": len(self.access),
            "access_checks_failed": sum(not a.ok for a in self.access),
        }

    @property
    def ok(self) -> bool:
        return (
            not self.problems
            and all(a.ok for a in self.access)
            and all(e.outcome == e.expected for e in self.events)
            and all(e["outcome_in_b"] == "delivered" for e in self.federation.get("events", []))
        )

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for check, data in zip(self.access, out["access"], strict=True):
            data["ok"] = check.ok
        return {**out, "totals": self.totals, "ok": self.ok}

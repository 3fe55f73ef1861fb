"""A delivery as the SDK hands it to you (parsed from the gateway's CloudEvents JSON)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Amendment = Literal["correction", "retraction"]


@dataclass(frozen=True)
class Delivery:
    """One event delivered to your department: ``id`` is your delivery id of it, ``data``
    only your fields, masked as your subscription says (JSON values, or Avro-typed values
    when the subscriber asked for Avro). A correction or retraction names, in ``corrects``,
    your delivery id of the event it amends. ``cursor`` is the position after it."""

    id: str
    source: str
    type: str
    subject: str
    time: dt.datetime
    data: Mapping[str, Any]
    cursor: str
    subscription: str | None = None
    dataschema: str | None = None
    traceparent: str | None = None
    corrects: str | None = None
    amendment: Amendment | None = None
    raw: bytes | None = field(default=None, repr=False)  # the Avro bytes, when asked for
    cloudevent: Mapping[str, Any] = field(default_factory=dict, repr=False)
    # Only when reading undecoded (Subscriber(decode=False)): why the event is unreadable.
    problem: str | None = None

    @property
    def event_type(self) -> str:
        """'gov.health.death_registered' of 'gov.health.death_registered.v1'."""
        return self.type.rpartition(".v")[0] or self.type

    @property
    def version(self) -> int:
        tail = self.type.rpartition(".v")[2]
        return int(tail) if tail.isdigit() else 0


@dataclass(frozen=True)
class Page:
    """What one pull returned, oldest first, and the cursor after the last of them."""

    deliveries: list[Delivery]
    cursor: str


AMENDMENTS: dict[str, Amendment] = {"correction": "correction", "retraction": "retraction"}


def parse(event: Mapping[str, Any], data: Mapping[str, Any], raw: bytes | None) -> Delivery:
    """The gateway's CloudEvent as a Delivery (``data`` already decoded). Raises KeyError or
    ValueError on a malformed event."""
    corrects = event.get("govbuscorrects")
    named = event.get("govbusamendment")
    amendment: Amendment | None = None
    if named is not None:
        if named not in AMENDMENTS:
            raise ValueError(f"unknown amendment {named!r}")
        amendment = AMENDMENTS[named]
    elif corrects:
        amendment = "correction"
    return Delivery(
        id=str(event["id"]),
        source=str(event["source"]),
        type=str(event["type"]),
        subject=str(event.get("subject") or ""),
        time=dt.datetime.fromisoformat(str(event["time"])),
        data=data,
        cursor=str(event["govbuscursor"]),
        subscription=event.get("govbussubscription"),
        dataschema=event.get("dataschema"),
        traceparent=event.get("traceparent"),
        corrects=str(corrects) if corrects else None,
        amendment=amendment,
        raw=raw,
        cloudevent=event,
    )


EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def unreadable(event: Mapping[str, Any], problem: str) -> Delivery:
    """An event that does not parse, kept whole in ``cloudevent`` with the reason, for a
    reader that passes events on rather than reading them (the federation bridge)."""
    return Delivery(
        id=str(event.get("id", ""))[:128],
        source="",
        type="",
        subject="",
        time=EPOCH,
        data={},
        cursor=str(event.get("govbuscursor", "")),
        cloudevent=event,
        problem=problem[:400],
    )

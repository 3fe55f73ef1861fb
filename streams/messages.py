"""The shapes that flow through a worker: what came in, and what must go out together."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from govbus.schemas.catalogue import EventType
from govbus.schemas.envelope import Envelope
from govbus.schemas.envelope import HeaderList as Headers


@dataclass(frozen=True)
class InMessage:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Headers = field(default_factory=list)


@dataclass(frozen=True)
class Output:
    topic: str
    key: bytes | None
    value: bytes | None
    headers: Headers = field(default_factory=list)


@dataclass(frozen=True)
class Accepted:
    msg: InMessage
    envelope: Envelope
    event: EventType
    record: dict[str, Any]


@dataclass(frozen=True)
class Rejected:
    msg: InMessage
    reason: str  # machine-readable code, e.g. identifier.citizen_id
    message: str  # for people; never contains the offending personal data


@dataclass(frozen=True)
class Recipients:
    """Who received one event: its type and the subscription ids it was delivered under."""

    event_type: str
    subscriptions: tuple[str, ...]

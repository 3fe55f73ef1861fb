"""Reading and redriving dead letters (``govbus dlq``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from confluent_kafka import Producer

from govbus.errors import ServiceUnavailableError
from govbus.kafka_config import client_config
from govbus.kafka_read import read_to_end
from govbus.schemas.topics import DLQ, lane_of

PREFIX = "govbus_dlq_"
# The source "topic" of what a federation bridge could not relay: it never reached an event
# topic here, so reconcile counts it by peer instead of against an input.
PEER_SOURCE = "peer:"


@dataclass(frozen=True)
class DeadLetter:
    partition: int
    offset: int
    reason: str
    message: str
    source_topic: str
    source_position: str
    at: str
    event_id: str
    ce_type: str
    key: bytes | None
    value: bytes | None
    original_headers: list[tuple[str, bytes]]

    @property
    def peer(self) -> str | None:
        """The peer bus this was received from, for what a federation bridge rejected."""
        return self.source_topic.removeprefix(PEER_SOURCE) if self.from_peer else None

    @property
    def from_peer(self) -> bool:
        return self.source_topic.startswith(PEER_SOURCE)

    @property
    def ref(self) -> str:
        return f"{self.partition}:{self.offset}"


def _text(headers: dict[str, bytes], name: str) -> str:
    return headers.get(name, b"").decode(errors="replace")


def read_dead_letters(bootstrap: str, since: dt.datetime | None = None) -> list[DeadLetter]:
    out = []
    for msg in read_to_end(bootstrap, DLQ, since=since):
        raw = [(k, v or b"") for k, v in (msg.headers() or [])]
        headers = dict(raw)
        out.append(
            DeadLetter(
                partition=msg.partition(),
                offset=msg.offset(),
                reason=_text(headers, PREFIX + "reason"),
                message=_text(headers, PREFIX + "message"),
                source_topic=_text(headers, PREFIX + "topic"),
                source_position=f"{_text(headers, PREFIX + 'partition')}/"
                f"{_text(headers, PREFIX + 'offset')}",
                at=_text(headers, PREFIX + "at"),
                event_id=_text(headers, "ce_id")[:80],
                ce_type=_text(headers, "ce_type")[:80],
                key=msg.key(),
                value=msg.value(),
                original_headers=[(k, v) for k, v in raw if not k.startswith(PREFIX)],
            )
        )
    return out


def redrive(bootstrap: str, letters: Iterable[DeadLetter]) -> int:
    """Send the original messages back to their topics (after the cause was fixed)."""
    producer = Producer(client_config(bootstrap, **{"enable.idempotence": True, "acks": "all"}))
    count = 0
    for letter in letters:
        if lane_of(letter.source_topic) is None:
            continue  # only event topics are ever redriven; the target is never client-chosen
        headers = [*letter.original_headers, ("govbus_redriven_from", letter.ref.encode())]
        producer.produce(letter.source_topic, letter.value, letter.key, headers=headers)  # type: ignore[arg-type]
        count += 1
    if producer.flush(30):
        raise ServiceUnavailableError("redrive not acknowledged by the broker")
    return count

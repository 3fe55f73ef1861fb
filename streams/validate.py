"""Validation of one incoming message: envelope, catalogue, ownership, payload, identifiers,
and the subject. Pure: everything it needs is handed in. Failures carry a reason code for
the DLQ.

The subject is the bus's: computed here from the record's subject field with the bus's key.
An accepted event's envelope carries that subject and no other, so audit, the disclosure
index and delivery keys never see what a publisher wrote into ``ce_subject`` or the key."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from govbus.pseudonym import Pseudonymizer
from govbus.schemas.catalogue import Catalogue, EventType
from govbus.schemas.codec import AvroCodec, CodecError
from govbus.schemas.envelope import Envelope, EnvelopeError
from govbus.schemas.topics import split_source
from govbus.schemas.validation import check_fields
from govbus.streams.messages import Accepted, InMessage, Rejected

MAX_CLOCK_SKEW = dt.timedelta(minutes=5)
EARLIEST_EVENT = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
# (peer, payload schema fingerprint, now) -> the type accepted from that peer, if agreed.
InboundTypes = Callable[[str, bytes, dt.datetime], EventType | None]


def _no_peers(_peer: str, _fp: bytes, _now: dt.datetime) -> EventType | None:
    return None


@dataclass(frozen=True)
class Validator:
    catalogue: Catalogue
    codec: AvroCodec
    max_event_bytes: int
    # Older events cannot be proven new: their dedupe claims may have expired, so a replay
    # would pass. They go to the DLQ (nothing lost); an operator redrives what is genuine.
    max_age: dt.timedelta | None = None
    inbound: InboundTypes = _no_peers
    # The bus's keys; required, so no worker can fall back to a development key silently.
    subjects: Pseudonymizer = field(kw_only=True)

    def __call__(self, msg: InMessage, now: dt.datetime) -> Accepted | Rejected:
        value = msg.value
        if value is None:
            return Rejected(msg, "payload.empty", "message has no value (tombstone)")
        if len(value) > self.max_event_bytes:
            return Rejected(
                msg,
                "payload.too_large",
                f"{len(value)} bytes exceeds the limit of {self.max_event_bytes}",
            )
        try:
            env = Envelope.from_headers(msg.headers)
        except EnvelopeError as exc:
            return Rejected(msg, exc.reason, str(exc))
        event = self.catalogue.get(env.type, env.version)
        if event is None:
            return Rejected(msg, "catalogue.unknown_type", f"{env.ce_type} is not in the catalogue")
        if msg.topic not in event.topics:
            return Rejected(
                msg,
                "envelope.topic_mismatch",
                f"{env.ce_type} arrived on {msg.topic}, belongs on {event.topic}",
            )
        peer, department = split_source(env.source)
        if department != event.owner:
            return Rejected(
                msg,
                "policy.not_owner",
                f"{env.source} does not own {env.type} (owner: {event.owner})",
            )
        if not EARLIEST_EVENT <= env.time <= now + MAX_CLOCK_SKEW:
            return Rejected(msg, "envelope.time", "ce_time is in the future or implausibly old")
        if self.max_age is not None and env.time < now - self.max_age:
            return Rejected(
                msg,
                "envelope.stale",
                f"ce_time is older than the dedupe window ({self.max_age}); a replay cannot be "
                "ruled out",
            )
        if peer is not None:
            return self._from_peer(msg, value, env, peer, now)
        try:
            fp = self.codec.fingerprint_of(value)
            if fp != event.fingerprint:
                return Rejected(
                    msg,
                    "codec.schema_mismatch",
                    f"payload schema {fp.hex()} is not that of {env.ce_type}",
                )
            # Older versions are read as the latest one, so routing, masking and every
            # subscriber see one shape per type (writer-to-reader schema resolution).
            latest = self.catalogue.latest(event.type) or event
            reader = latest.schema if latest is not event else None
            _, record = self.codec.decode(value, reader=reader)
        except CodecError as exc:
            return Rejected(msg, exc.reason, str(exc))
        return self._checked(msg, env, latest, record)

    def _from_peer(
        self, msg: InMessage, value: bytes, env: Envelope, peer: str, now: dt.datetime
    ) -> Accepted | Rejected:
        """An event relayed from a federated bus: read exactly as agreed with that peer."""
        try:
            fp = self.codec.fingerprint_of(value)
            event = self.inbound(peer, fp, now)
            if event is None or event.type != env.type or event.version != env.version:
                return Rejected(
                    msg,
                    "federation.no_agreement",
                    f"no inbound agreement with {peer} covers {env.ce_type} with payload schema "
                    f"{fp.hex()}",
                )
            _, record = self.codec.decode(value)
        except CodecError as exc:
            return Rejected(msg, exc.reason, str(exc))
        return self._checked(msg, env, event, record)

    def _checked(
        self, msg: InMessage, env: Envelope, event: EventType, record: dict[str, Any]
    ) -> Accepted | Rejected:
        problem = check_fields(event.fields.values(), record)
        if problem is not None:
            return Rejected(msg, *problem)
        subject = self.subjects.subject_of(event, record)
        # Optional on input; if given, it must be the bus's own (a forged one would put a
        # clear ID into audit and indexes, or hide deliveries from a citizen's report).
        if env.subject and env.subject != subject:
            return Rejected(
                msg,
                "envelope.subject_mismatch",
                f"ce_subject is not the bus's pseudonym of the record's {event.subject_field}; "
                "leave it out, the bus computes it",
            )
        return Accepted(msg, replace(env, subject=subject), event, record)

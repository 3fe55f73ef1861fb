"""Audit records for what a worker decided about one input. Pure: the chain is handed in."""

from __future__ import annotations

import datetime as dt
from typing import Any

from govbus import telemetry
from govbus.schemas.audit import AuditRecord, ChainState, append_body, record_body
from govbus.schemas.envelope import Envelope, header_dict
from govbus.schemas.envelope import HeaderList as Headers
from govbus.schemas.topics import AUDIT
from govbus.streams.deliver import Delivery
from govbus.streams.messages import Accepted, InMessage, Output, Rejected


def trace_id(headers: Headers) -> str:
    """The trace id of the traceparent header, if any."""
    return next((telemetry.trace_id_of(v) for k, v in headers if k == "traceparent"), "")


def _position(msg: InMessage) -> str:
    return f"{msg.topic}/{msg.partition}/{msg.offset}"


def _base(msg: InMessage, env: Envelope | None, now: str, chain: str) -> dict[str, Any]:
    return record_body(
        kind="accepted",
        at=now,
        chain=chain,
        event_id=env.id if env else "",
        source=env.source if env else "",
        type=env.type if env else "",
        version=env.version if env else 0,
        subject=env.subject if env else "",
        trace_id=trace_id(msg.headers),
        input=_position(msg),
    )


def audit_output(record: AuditRecord) -> Output:
    return Output(AUDIT, record.chain.encode(), record.to_json())


class AuditWriter:
    """Appends sealed records to one chain (one per input partition). Records are built as
    plain dicts and serialised once each: a worker writes several per event."""

    def __init__(self, chain_id: str, state: ChainState, now: dt.datetime) -> None:
        self.chain_id = chain_id
        self._key = chain_id.encode()
        self.state = state
        self.now = now.isoformat()
        self.outputs: list[Output] = []
        self._accepted: tuple[Accepted, dict[str, Any]] | None = None

    def _add(self, body: dict[str, Any]) -> None:
        self.outputs.append(Output(AUDIT, self._key, append_body(self.state, body)))

    def _event_base(self, acc: Accepted) -> dict[str, Any]:
        # accepted() and the delivered() that follow it share the event's fields.
        if self._accepted is None or self._accepted[0] is not acc:
            self._accepted = (acc, _base(acc.msg, acc.envelope, self.now, self.chain_id))
        return self._accepted[1]

    def accepted(self, acc: Accepted) -> None:
        self._add(dict(self._event_base(acc)))

    def delivered(self, acc: Accepted, delivery: Delivery) -> None:
        sub = delivery.subscription
        env = acc.envelope
        self._add(
            {
                **self._event_base(acc),
                "kind": "delivered",
                "subscriber": sub.subscriber,
                "subscription": sub.id,
                "delivery_id": delivery.delivery_id,
                "fields": dict(delivery.fields),
                "legal_basis": sub.legal_basis,
                "purpose": sub.purpose,
                # The delivery's own trace (linked to the publisher's), not the publisher's.
                "trace_id": trace_id(delivery.output.headers),
                # Corrections and retractions are tracked until their recipients acknowledge.
                "reason": env.amendment or "",
                "detail": f"{env.amendment} of {env.corrects}" if env.corrects else "",
            }
        )

    def duplicate(self, acc: Accepted, identity: str, holder: str) -> None:
        self._add(
            {
                **self._event_base(acc),
                "kind": "duplicate",
                "reason": identity.split(":", 1)[0],
                "detail": f"first seen at {holder}",
            }
        )

    def dead_letter(self, rej: Rejected) -> None:
        try:
            env: Envelope | None = Envelope.from_headers(rej.msg.headers)
        except ValueError:
            env = None
        body = _base(rej.msg, env, self.now, self.chain_id)
        # Never the subject as sent: only an accepted event has a subject the bus computed.
        body["subject"] = ""
        if env is None:  # keep what identifies the event, checked, without trusting it
            raw = _safe_headers(rej.msg)
            body["event_id"] = raw.get("ce_id", "")[:128]
            body["source"] = raw.get("ce_source", "")[:128]
        body.update(kind="dead_letter", reason=rej.reason, detail=rej.message[:400])
        self._add(body)


def _safe_headers(msg: InMessage) -> dict[str, str]:
    try:
        return header_dict(msg.headers)
    except ValueError:
        return {}

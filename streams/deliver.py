"""Project and mask an accepted event for one subscription, and frame the outputs
(delivery, dead letter) as Kafka messages. Pure apart from the codec's schema cache."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from govbus.masking import apply_rule
from govbus.policy import Subscription
from govbus.pseudonym import Pseudonymizer
from govbus.schemas.codec import AvroCodec
from govbus.schemas.envelope import Envelope, schema_ref
from govbus.schemas.federation import delivered_rules
from govbus.schemas.projection import projected_schema
from govbus.schemas.topics import DLQ, delivery_topic
from govbus.streams.messages import Accepted, Output, Rejected


@dataclass(frozen=True)
class Delivery:
    subscription: Subscription
    fingerprint: bytes  # of the projected schema
    output: Output
    delivery_id: str
    fields: dict[str, str]  # field -> rule, as delivered


class Projector:
    """Turns (accepted event, subscription) into the subscriber's masked message."""

    def __init__(self, codec: AvroCodec, pseudonymizer: Pseudonymizer) -> None:
        self.codec = codec
        self.pseudonymizer = pseudonymizer
        self._schemas: dict[tuple[bytes, str, tuple[tuple[str, str], ...]], bytes] = {}

    def schema_fp(self, accepted: Accepted, sub: Subscription, shown: dict[str, str]) -> bytes:
        key = (accepted.event.fingerprint, sub.id, tuple(sorted(shown.items())))
        fp = self._schemas.get(key)
        if fp is None:
            fp = self.codec.register(
                projected_schema(accepted.event, shown, sub.id, sub.subscriber)
            )
            self._schemas[key] = fp
        return fp

    def project(
        self, accepted: Accepted, sub: Subscription, rules: dict[str, str]
    ) -> dict[str, Any]:
        """``rules``: field -> the rule to apply here (see delivered_rules)."""
        as_of = accepted.envelope.time.date()

        def pseudonymize(kind: str, value: str) -> str:
            return self.pseudonymizer.for_subscriber(sub.subscriber, kind, value)

        out = {}
        for name, rule in rules.items():
            spec = accepted.event.fields[name]
            out[name] = apply_rule(
                rule,
                accepted.record.get(name),
                fmt=spec.format,
                as_of=as_of,
                pseudonymize=pseudonymize,
            )
        return out

    def deliver(
        self, accepted: Accepted, sub: Subscription, extra_headers: list[tuple[str, bytes]]
    ) -> Delivery:
        env = accepted.envelope
        plan = delivered_rules(accepted.event, sub.fields)
        shown = {name: rules[0] for name, rules in plan.items()}
        fp = self.schema_fp(accepted, sub, shown)
        # Per-subscriber event id and subject: two departments cannot join their copies
        # on identifiers the bus hands out.
        out_id = self.pseudonymizer.delivery_id(sub.subscriber, env.source, env.id)
        # env.subject is the bus's own (see validate); "" when a peer sent no clear subject.
        subject = (
            self.pseudonymizer.for_subscriber(sub.subscriber, "subject", env.subject)
            if env.subject
            else ""
        )
        out_env = Envelope(
            id=out_id,
            source=env.source,
            type=env.type,
            version=env.version,
            subject=subject,
            time=env.time,
            dataschema=schema_ref(fp),
            correlation_id=None,
            causation_id=None,
            # The subscriber's own id for the corrected event, so it can find what to fix.
            corrects=self.pseudonymizer.delivery_id(sub.subscriber, env.source, env.corrects)
            if env.corrects
            else None,
            retract=env.retract,
        )
        headers = [*out_env.to_headers(), ("govbus_subscription", sub.id.encode()), *extra_headers]
        applied = {name: rules[1] for name, rules in plan.items()}
        value = self.codec.encode(fp, self.project(accepted, sub, applied))
        key = (subject or out_id).encode()  # per subject: one person's deliveries keep order
        output = Output(delivery_topic(sub.subscriber), key, value, headers)
        return Delivery(sub, fp, output, out_id, shown)


def dead_letter(rejected: Rejected, now: dt.datetime) -> Output:
    """The original bytes and headers, plus why and where from: enough to redrive."""
    msg = rejected.msg
    extra = {
        "govbus_dlq_reason": rejected.reason,
        "govbus_dlq_message": rejected.message[:400],
        "govbus_dlq_topic": msg.topic,
        "govbus_dlq_partition": str(msg.partition),
        "govbus_dlq_offset": str(msg.offset),
        "govbus_dlq_at": now.isoformat(),
    }
    original = [(k, v) for k, v in msg.headers if not k.startswith("govbus_dlq_")]
    return Output(DLQ, msg.key, msg.value, original + [(k, v.encode()) for k, v in extra.items()])

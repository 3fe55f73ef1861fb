"""Federation bridge: what a peer province's bus delivers to this bus, published here as events
from ``<peer>/<department>``.

This bus is an ordinary subscriber at the peer: the peer's policy decides which fields it
gets and masks them, the peer audits the delivery and the read. The bridge pulls from the
peer's gateway in Avro (the exact bytes the peer delivered), publishes each event to this
bus's event topic with acks=all, and only then acks the peer's cursor (the subscriber SDK,
``govbus.client``, does the reading, acking and retrying). A crash in between
re-reads the page; the events keep their ids (the peer's delivery ids for this bus), so this
bus's dedupe counts the copies as duplicates: nothing lost, nothing delivered twice. Here
the events are validated against the inbound agreement, deduplicated, routed and masked
again under this bus's own policy, and audited.

Trace context crosses: the peer's ``traceparent`` is the parent of the bridge's span, whose
context travels on in the published headers.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from opentelemetry.trace import SpanKind

from govbus import telemetry
from govbus.adapters.publisher import Prepared, Publisher, PublishResult
from govbus.client import Backoff, Delivery, RefusedError, Subscriber
from govbus.dlq import PEER_SOURCE
from govbus.errors import GovbusError
from govbus.heartbeat import beat
from govbus.logs import traced
from govbus.schemas.envelope import Envelope, EnvelopeError, parse_time
from govbus.schemas.topics import DLQ, check_party_id, event_topic

log = logging.getLogger(__name__)
PUBLISH_TIMEOUT_S = 60.0


class BridgeError(GovbusError):
    """The peer refused the bridge for good (bad key, no subscription): retrying cannot help."""


def relayed(event: Mapping[str, Any], peer: str) -> Prepared:
    """One event from the peer's pull as a message for this bus (pure).

    Its id stays the peer's delivery id (stable across redeliveries, so this bus dedupes a
    re-read), its source becomes ``<peer>/<department>``, and an amendment keeps pointing at
    the id of the event it corrects, which is that event's id here too. The peer's subject
    (its pseudonym for this bus) is no subject here: this bus computes its own from the
    record, so it goes only into the Kafka key, keeping one person's events in order.
    Raises ValueError when the event cannot be relayed as an event at all (see
    ``malformed``).
    """
    try:
        ce_type = str(event["type"])
        type_name, _, version = ce_type.rpartition(".v")
        envelope = Envelope(
            id=str(event["id"]),
            source=f"{peer}/{event['source']}",
            type=type_name,
            version=int(version),
            subject="",
            time=parse_time(str(event["time"])),
            dataschema=str(event.get("dataschema") or ""),
            corrects=event.get("govbuscorrects"),
            retract=event.get("govbusamendment") == "retraction",
        )
        topic = event_topic(envelope.type, envelope.version)
        value = base64.b64decode(str(event["data_base64"]), validate=True)
        key = str(event.get("subject") or envelope.id).encode()
    except (KeyError, ValueError, EnvelopeError, binascii.Error) as exc:
        raise ValueError(f"cannot relay event {str(event.get('id'))[:64]}: {exc}") from None
    headers = envelope.to_headers()
    if event.get("traceparent"):
        headers.append(("traceparent", str(event["traceparent"]).encode()))
    headers.append(("govbus_peer_subscription", str(event.get("govbussubscription")).encode()))
    return Prepared(envelope, topic, key, value, headers)


def malformed(event: Mapping[str, Any], peer: str, problem: str) -> Prepared:
    """An event that cannot be relayed goes to this bus's dead-letter topic, whole, with the
    reason: nothing the peer sent is dropped."""
    body = json.dumps(event, ensure_ascii=False, default=str).encode()
    envelope = Envelope(
        id=str(event.get("id", ""))[:128] or "unknown",
        source=peer,
        type="gov.federation.malformed",
        version=1,
        subject="",
        time=parse_time("2000-01-01T00:00:00Z"),
    )
    headers = [
        ("govbus_dlq_reason", b"federation.malformed"),
        ("govbus_dlq_message", problem[:400].encode()),
        ("govbus_dlq_topic", f"{PEER_SOURCE}{peer}".encode()),
    ]
    return Prepared(envelope, DLQ, peer.encode(), body, headers)


@dataclass
class BridgeStats:
    pulled: int = 0
    published: int = 0
    dead_lettered: int = 0
    acked_pages: int = 0
    errors: int = 0
    last_error: str | None = None
    event_ids: list[str] = field(default_factory=list)


class Bridge:
    """The peer's subscriber SDK (``govbus.client``) with a page handler that publishes the
    page here and returns once this bus acknowledged every event (acks=all): the SDK acks
    the peer's cursor only then, and resumes from the last ack after any failure."""

    def __init__(
        self,
        *,
        peer: str,
        peer_gateway: str,
        api_key: str,
        publisher: Publisher,
        limit: int = 200,
        wait_s: float = 5.0,
        http: httpx.Client | None = None,
    ) -> None:
        self.peer = check_party_id(peer)
        self.publisher = publisher
        self._owns_http = http is None
        self.http = http or httpx.Client(base_url=peer_gateway, timeout=wait_s + 30)
        self.subscriber = Subscriber(
            peer_gateway,
            api_key,
            avro=True,  # the exact bytes the peer delivered
            decode=False,  # relayed as they are; this bus's worker decodes and checks them
            limit=limit,
            wait_s=wait_s,
            http=self.http,
            backoff=Backoff(base_s=0.5, cap_s=10.0),
        )
        self.stats = BridgeStats()

    def close(self) -> None:
        if self._owns_http:
            self.http.close()

    def __enter__(self) -> Bridge:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def relay_page(self, page: Sequence[Delivery]) -> None:
        """Publish a page here; returns once every event is acknowledged (acks=all)."""
        self.stats.pulled += len(page)
        futures = [self._send(dict(delivery.cloudevent)) for delivery in page]
        for future in futures:
            future.result(timeout=PUBLISH_TIMEOUT_S)

    def _send(self, event: dict[str, Any]) -> Future[PublishResult]:
        try:
            prepared = relayed(event, self.peer)
        except ValueError as exc:
            log.error(
                "federation: dead-lettered",
                extra={"peer": self.peer, "error": str(exc), **traced(event.get("traceparent"))},
            )
            self.stats.dead_lettered += 1
            return self.publisher.send(malformed(event, self.peer, str(exc)))
        parent = telemetry.extract({"traceparent": event.get("traceparent", "")})
        attributes = telemetry.messaging_attributes(
            "receive", f"peer:{self.peer}", message_id=prepared.envelope.id
        )
        span_name = f"bridge from {self.peer}"
        with telemetry.tracer().start_as_current_span(
            span_name, context=parent, kind=SpanKind.CONSUMER, attributes=attributes
        ):
            # The peer's traceparent gave this span its parent; the send span is its child.
            headers = [(k, v) for k, v in prepared.headers if k != "traceparent"]
            future = self.publisher.send(
                Prepared(prepared.envelope, prepared.topic, prepared.key, prepared.value, headers)
            )
        self.stats.published += 1
        self.stats.event_ids.append(prepared.envelope.id)
        return future

    def run(
        self,
        stop: threading.Event,
        *,
        idle_exit_s: float | None = None,
        heartbeat: Path | None = None,
    ) -> BridgeStats:
        """Until ``stop`` (or ``idle_exit_s`` without events). Transient failures on either
        side are retried from the last ack; a refusal by the peer (BridgeError) ends it.
        ``heartbeat`` is touched after each page that went through (liveness)."""
        try:
            self.subscriber.run_pages(
                self.relay_page,
                stop=stop,
                idle_exit_s=idle_exit_s,
                on_progress=None if heartbeat is None else lambda: beat(heartbeat),
            )
        except RefusedError as exc:
            raise BridgeError(str(exc)) from None
        finally:
            done = self.subscriber.stats
            self.stats.errors, self.stats.last_error = done.errors, done.last_error
            self.stats.acked_pages = done.acked
        return self.stats

"""The event types this bus accepts from federated peers, derived from the inbound
agreements in its policy (see govbus.schemas.federation). Rebuilt when the policy changes."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable

from govbus.policy import InboundAgreement, PolicyDocument
from govbus.schemas.catalogue import Catalogue, EventType
from govbus.schemas.codec import AvroCodec
from govbus.schemas.federation import inbound_event_type

InboundKey = tuple[str, bytes]  # (peer, fingerprint of the payload schema)


def accepting(agreement: InboundAgreement, now: dt.datetime) -> bool:
    sub = agreement.subscription
    return sub.status == "active" and (sub.expires is None or now < sub.expires)


def inbound_types(
    doc: PolicyDocument, catalogue: Catalogue, now: dt.datetime
) -> dict[InboundKey, EventType]:
    """Every (peer, payload schema) this bus accepts now, with the type it reads it as."""
    out: dict[InboundKey, EventType] = {}
    for agreement in doc.inbound:
        if not accepting(agreement, now):
            continue
        for type_name in agreement.subscription.event_types:
            national = catalogue.latest(type_name)
            if national is None:
                continue
            entry = inbound_event_type(
                national, agreement.subscription.fields, agreement.subscription.id, agreement.peer
            )
            out[(agreement.peer, entry.fingerprint)] = entry
    return out


class InboundLookup:
    """(peer, fingerprint) -> the accepted type, for the validator; follows the policy
    snapshot and registers the derived schemas with the codec that decodes them."""

    def __init__(
        self, policy: Callable[[], PolicyDocument], catalogue: Catalogue, codec: AvroCodec
    ) -> None:
        self._policy = policy
        self._catalogue = catalogue
        self._codec = codec
        self._lock = threading.Lock()
        self._for: PolicyDocument | None = None
        self._types: dict[InboundKey, EventType] = {}
        self._at = dt.datetime.min.replace(tzinfo=dt.UTC)

    def __call__(self, peer: str, fingerprint: bytes, now: dt.datetime) -> EventType | None:
        doc = self._policy()
        with self._lock:
            # Rebuilt on a policy change, and once a minute for expiries.
            if doc is not self._for or now - self._at > dt.timedelta(minutes=1):
                self._types = inbound_types(doc, self._catalogue, now)
                for entry in self._types.values():
                    self._codec.register(entry.schema)
                self._for, self._at = doc, now
            return self._types.get((peer, fingerprint))

"""The CloudEvents 1.0 envelope, carried as Kafka headers (binary content mode).

The Avro payload is the event's data; everything about the event (id, source,
type, subject, time...) travels in ``ce_*`` headers so routing, dedupe and
audit never need to decode the payload.

The subject is a keyed pseudonym that only the bus computes, from the record's subject
field: a publisher leaves ``ce_subject`` out (it holds no bus secret), and the worker
dead-letters an input whose ``ce_subject`` is not the bus's own. On a delivery it is the
subscriber's pseudonym of that subject.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from govbus.schemas.errors import ReasonedError
from govbus.schemas.topics import check_source, split_type

SPECVERSION = "1.0"
AVRO_CONTENT_TYPE = "application/avro"
MAX_HEADER_BYTES = 512
# ``ce_dataschema`` names the Avro schema of the payload by its fingerprint, kept in govbus.schemas.
SCHEMA_REF_PREFIX = "govbus:schema:"


def schema_ref(fingerprint: bytes) -> str:
    """The ``dataschema`` of a payload written with the schema of this Rabin fingerprint."""
    return SCHEMA_REF_PREFIX + fingerprint.hex()


def schema_fingerprint(dataschema: str) -> str:
    """The hex fingerprint a ``dataschema`` names: ``govbus:schema:<fp>`` as on the delivery
    topic, or ``<gateway>/v1/schemas/<fp>`` as the gateway renders it."""
    return re.split(r"[:/]", dataschema)[-1]


_TYPE_VERSION_RE = re.compile(
    r"(gov\.[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*)\.v([1-9][0-9]{0,3})", re.ASCII
)
# Printable ASCII, no spaces or control characters; fullmatch: ``$`` would let a final
# newline through (and "abc\n" would dedupe apart from "abc").
_SAFE_RE = re.compile(r"[\x21-\x7e]+")

HeaderList = list[tuple[str, bytes]]
# confluent-kafka's produce() takes a wider (invariant) list type; ours is always str -> bytes.
KafkaHeaders = list[tuple[str, str | bytes | None]]
HeadersIn = Mapping[str, bytes | str | None] | Iterable[tuple[str, bytes | str | None]]


class EnvelopeError(ReasonedError):
    """The headers do not form a valid govbus envelope."""


@dataclass(frozen=True)
class Envelope:
    id: str
    source: str  # the publishing department, or <peer>/<department> from a federated bus
    type: str  # gov.<domain>.<event>
    version: int
    # Keyed pseudonym of the person or enterprise; "" when not (yet) known: on input the
    # bus computes it, and a peer's event whose subject field came masked has none here.
    subject: str
    time: dt.datetime
    dataschema: str = ""
    correlation_id: str | None = None  # one "get one thing done" case across events
    causation_id: str | None = None  # the event that caused this one
    # A correction: the id of the earlier event (same source) whose facts this one replaces.
    # On a delivery it is the subscriber's own delivery id of that earlier event.
    corrects: str | None = None
    # With ``corrects``: the earlier event was wrong altogether (withdraw it), not amended.
    retract: bool = False

    @property
    def amendment(self) -> str | None:
        """'correction' or 'retraction' of the event named by ``corrects``; None otherwise."""
        if not self.corrects:
            return None
        return "retraction" if self.retract else "correction"

    @property
    def ce_type(self) -> str:
        return f"{self.type}.v{self.version}"

    def with_type(self, event_type: str, version: int) -> Envelope:
        return replace(self, type=event_type, version=version)

    def to_headers(self) -> HeaderList:
        pairs = {
            "ce_specversion": SPECVERSION,
            "ce_id": self.id,
            "ce_source": self.source,
            "ce_type": self.ce_type,
            "ce_time": self.time.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
            "content-type": AVRO_CONTENT_TYPE,
        }
        if self.subject:
            pairs["ce_subject"] = self.subject
        if self.dataschema:
            pairs["ce_dataschema"] = self.dataschema
        if self.correlation_id:
            pairs["ce_correlationid"] = self.correlation_id
        if self.causation_id:
            pairs["ce_causationid"] = self.causation_id
        if self.corrects:
            pairs["ce_govbuscorrects"] = self.corrects
            if self.retract:
                pairs["ce_govbusretract"] = "true"
        return [(k, v.encode()) for k, v in pairs.items()]

    @classmethod
    def from_headers(cls, headers: HeadersIn | None) -> Envelope:
        values = header_dict(headers)

        def need(name: str) -> str:
            value = values.get(name)
            if not value:
                raise EnvelopeError("envelope.missing", f"header {name} is missing")
            return value

        if need("ce_specversion") != SPECVERSION:
            raise EnvelopeError("envelope.specversion", "ce_specversion must be 1.0")
        match = _TYPE_VERSION_RE.fullmatch(need("ce_type"))
        if match is None:
            raise EnvelopeError("envelope.type", "ce_type must be gov.<domain>.<event>.v<N>")
        source = need("ce_source")
        try:
            check_source(source)
            split_type(match.group(1))
        except ValueError as exc:
            raise EnvelopeError("envelope.source", str(exc)) from None
        return cls(
            id=need("ce_id"),
            source=need("ce_source"),
            type=match.group(1),
            version=int(match.group(2)),
            subject=values.get("ce_subject", ""),
            time=parse_time(need("ce_time")),
            dataschema=values.get("ce_dataschema", ""),
            correlation_id=values.get("ce_correlationid"),
            causation_id=values.get("ce_causationid"),
            corrects=values.get("ce_govbuscorrects"),
            retract=values.get("ce_govbusretract") == "true",
        )


def header_dict(headers: HeadersIn | None) -> dict[str, str]:
    """Kafka headers in any of the shapes clients hand them over (a mapping, or a list of
    (str, bytes) tuples as Faust and confluent-kafka do) as a dict of checked strings."""
    if headers is None:
        return {}
    items = headers.items() if isinstance(headers, Mapping) else headers
    out: dict[str, str] = {}
    for key, raw in items:
        if raw is None:
            continue
        data = raw.encode() if isinstance(raw, str) else bytes(raw)
        if len(data) > MAX_HEADER_BYTES:
            raise EnvelopeError(
                "envelope.header_size", f"header {key} exceeds {MAX_HEADER_BYTES} bytes"
            )
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise EnvelopeError("envelope.encoding", f"header {key} is not UTF-8") from None
        if key.startswith("ce_") and not _SAFE_RE.fullmatch(text):
            raise EnvelopeError("envelope.unsafe", f"header {key} has spaces or control characters")
        if key in out:
            raise EnvelopeError("envelope.duplicate", f"header {key} appears twice")
        out[key] = text
    return out


def parse_time(value: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise EnvelopeError("envelope.time", "ce_time is not RFC 3339") from None
    if parsed.tzinfo is None:
        raise EnvelopeError("envelope.time", "ce_time needs a time zone")
    return parsed

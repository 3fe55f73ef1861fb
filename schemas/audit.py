"""The audit record: one shape for every hop (published, delivered, duplicate, dead letter,
read, policy change), hash-chained so that tampering shows.

Each chain is written by one writer in order (a worker writes one chain per input
partition); every record carries the hash of the previous one in its chain, and its own
hash over its canonical JSON. ``verify`` re-computes the links.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from dataclasses import fields as dataclass_fields
from typing import Any, Literal

Kind = Literal[
    "published",
    "accepted",
    "delivered",
    "duplicate",
    "dead_letter",
    "read",
    "acked",
    "policy",
    "correction",
    "correction_acked",  # a recipient confirmed it applied a correction or retraction
    "disclosure_viewed",  # someone looked up who received a person's data
    "licence_verified",  # a relying department checked a licence (with its purpose)
]
GENESIS = "0" * 64


@dataclass(frozen=True)
class AuditRecord:
    kind: Kind
    at: str  # RFC 3339
    chain: str
    seq: int
    event_id: str = ""
    source: str = ""
    type: str = ""
    version: int = 0
    subject: str = ""  # the bus-wide subject pseudonym, never a clear identifier
    subscriber: str = ""
    subscription: str = ""
    delivery_id: str = ""
    fields: dict[str, str] = field(default_factory=dict)  # field -> masking rule
    legal_basis: str = ""
    purpose: str = ""
    reason: str = ""
    detail: str = ""
    trace_id: str = ""
    input: str = ""  # topic/partition/offset of the input message
    prev_hash: str = GENESIS
    hash: str = ""

    def _as_dict(self) -> dict[str, Any]:
        # Shallow on purpose: dataclasses.asdict deep-copies every value and was the largest
        # single cost of a worker's batch (profiled: more than half of it). The JSON is the
        # same, so chains sealed before this change still verify.
        return {name: getattr(self, name) for name in _FIELD_NAMES}

    def canonical(self) -> bytes:
        body = self._as_dict()
        del body["hash"]
        return _CANONICAL(body).encode()

    def sealed(self) -> AuditRecord:
        return replace(self, hash=_digest(self.prev_hash, self.canonical()))

    def to_json(self) -> bytes:
        return json.dumps(self._as_dict(), sort_keys=True, ensure_ascii=False).encode()

    @classmethod
    def from_json(cls, data: bytes) -> AuditRecord:
        raw: dict[str, Any] = json.loads(data)
        return cls(**raw)


_FIELD_NAMES = tuple(f.name for f in dataclass_fields(AuditRecord))
_DEFAULTS: dict[str, Any] = {
    name: getattr(AuditRecord("accepted", "", "", 0), name) for name in _FIELD_NAMES
}
# The canonical form: sorted keys, no spaces, UTF-8 as is (one encoder, made once).
_CANONICAL = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode


def _digest(prev_hash: str, canonical: bytes) -> str:
    return hashlib.sha256(prev_hash.encode() + canonical).hexdigest()


@dataclass
class ChainState:
    seq: int = 0
    head: str = GENESIS


def append(state: ChainState, record: AuditRecord) -> AuditRecord:
    """Seal ``record`` as the next link of the chain and advance the state."""
    sealed = replace(record, seq=state.seq + 1, prev_hash=state.head).sealed()
    state.seq, state.head = sealed.seq, sealed.hash
    return sealed


def record_body(**values: Any) -> dict[str, Any]:
    """The fields of an :class:`AuditRecord` as a dict, defaults filled in: for writers that
    build many records per event (the worker) and must not pay for a dataclass each."""
    unknown = values.keys() - _DEFAULTS.keys()
    if unknown:
        raise TypeError(f"unknown audit fields: {sorted(unknown)}")
    return {**_DEFAULTS, **values}


def append_body(state: ChainState, body: dict[str, Any]) -> bytes:
    """:func:`append_json` for a record given as :func:`record_body`'s dict (changed in
    place: seq, prev_hash). Byte for byte what ``append_json`` writes for the same record."""
    body["seq"] = state.seq + 1
    body["prev_hash"] = state.head
    hashed = body.pop("hash", "")
    canonical = _CANONICAL(body).encode()
    body["hash"] = hashed
    digest = _digest(state.head, canonical)
    state.seq, state.head = body["seq"], digest
    return canonical[:-1] + b',"hash":"' + digest.encode() + b'"}'


def append_json(state: ChainState, record: AuditRecord) -> bytes:
    """``append``, for a writer that only needs the sealed record's JSON (the gateway writes
    one per event read, per reader): serialised once instead of twice. The JSON is compact,
    not the spaced ``to_json`` form; readers parse either to the same record."""
    linked = replace(record, seq=state.seq + 1, prev_hash=state.head)
    canonical = linked.canonical()
    digest = _digest(linked.prev_hash, canonical)
    state.seq, state.head = linked.seq, digest
    return canonical[:-1] + b',"hash":"' + digest.encode() + b'"}'


class ChainWatch:
    """Checks records as they come, chain by chain: the link to the previous record seen of
    the same chain (seq, prev_hash) and each record's own hash. :func:`verify` over a whole
    topic; a follower of the audit topic record by record (the indexer), which calls
    :meth:`forget` when it may be handed records again or out of turn (a rebalance)."""

    def __init__(self) -> None:
        self._last: dict[str, tuple[int, str]] = {}  # chain -> (seq, hash) of the last seen

    def check(self, rec: AuditRecord) -> list[str]:
        """Problems ``rec`` shows: gaps, reordering, broken links, altered content."""
        problems = []
        prev = self._last.get(rec.chain)
        if prev is not None and rec.seq != prev[0] + 1:
            problems.append(f"{rec.chain}: seq {rec.seq} follows {prev[0]}")
        if prev is not None and rec.prev_hash != prev[1]:
            problems.append(f"{rec.chain}#{rec.seq}: prev_hash does not match record {prev[0]}")
        if rec.sealed().hash != rec.hash:
            problems.append(f"{rec.chain}#{rec.seq}: hash does not match its content")
        self._last[rec.chain] = (rec.seq, rec.hash)
        return problems

    def forget(self) -> None:
        """Start afresh: the next record of each chain is checked on its own."""
        self._last.clear()


def verify(records: Iterable[AuditRecord]) -> list[str]:
    """Problems found, per chain: gaps, reordering, broken links, altered records."""
    watch = ChainWatch()
    return [problem for rec in records for problem in watch.check(rec)]


def verify_heads(records: Iterable[AuditRecord], heads: dict[str, tuple[int, str]]) -> list[str]:
    """Each worker commits its chain's head (seq, hash) in the same transaction as the
    records: the record at that head must exist and match, so removing or rewriting the
    tail of a chain is caught, not only breaks inside it. Read the heads *before* the
    records; later records beyond the head are fine."""
    at_head = {chain: head for chain, head in heads.items() if head[0] > 0}
    found: dict[str, str] = {}
    for rec in records:
        head = at_head.get(rec.chain)
        if head is not None and rec.seq == head[0]:
            found[rec.chain] = rec.hash
    problems = []
    for chain, (seq, digest) in sorted(at_head.items()):
        if chain not in found:
            problems.append(f"{chain}: committed head #{seq} is missing from the audit topic")
        elif found[chain] != digest:
            problems.append(f"{chain}#{seq}: differs from the committed head")
    return problems

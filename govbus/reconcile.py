"""Reconciliation: every input event on the source topics against its outcomes.

Each input must have exactly one decision in the worker's audit (accepted, duplicate or dead
letter); each audited delivery must be on the subscriber's topic exactly once; each audited
dead letter must be on the DLQ exactly once. Inputs past the worker's committed progress are
*pending* (not yet processed), not lost. Pure: the IO is in ``collect``.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from govbus.audit_log import read_audit
from govbus.dlq import read_dead_letters
from govbus.kafka_read import read_to_end
from govbus.schemas.audit import AuditRecord
from govbus.schemas.catalogue import Catalogue
from govbus.schemas.envelope import header_dict
from govbus.schemas.topics import delivery_topic
from govbus.streams.sink import read_progress

DECISIONS = ("accepted", "duplicate", "dead_letter")


@dataclass(frozen=True)
class Input:
    topic: str
    partition: int
    offset: int
    event_id: str = ""

    @property
    def position(self) -> str:
        return f"{self.topic}/{self.partition}/{self.offset}"


@dataclass(frozen=True)
class Gap:
    # lost | decided_twice | delivery_missing | delivered_twice | dead_letter_missing
    # | dead_lettered_twice
    kind: str
    position: str
    event_id: str
    detail: str = ""


@dataclass
class Reconciliation:
    inputs: int = 0
    accepted: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    pending: int = 0
    deliveries: int = 0
    by_subscriber: Counter[str] = field(default_factory=Counter)
    # What federation bridges dead-lettered before it became an input here, by peer.
    from_peers: Counter[str] = field(default_factory=Counter)
    gaps: list[Gap] = field(default_factory=list)

    @property
    def exact(self) -> bool:
        return not self.gaps


def reconcile(
    inputs: Iterable[Input],
    audit: Iterable[AuditRecord],
    delivered: Mapping[tuple[str, str], int],
    dead_lettered: Mapping[str, int],
    committed: Mapping[tuple[str, int], int],
    *,
    from_peers: Mapping[str, int] | None = None,
) -> Reconciliation:
    """``delivered``: (subscriber, delivery id) -> times on its topic; ``dead_lettered``:
    input position -> times on the DLQ; ``committed``: (topic, partition) -> next offset;
    ``from_peers``: peer -> events its bridge dead-lettered (never inputs here)."""
    by_input: dict[str, list[AuditRecord]] = {}
    for record in audit:
        by_input.setdefault(record.input, []).append(record)
    out = Reconciliation(from_peers=Counter(from_peers or {}))
    for item in inputs:
        out.inputs += 1
        records = by_input.get(item.position, [])
        decisions = [r for r in records if r.kind in DECISIONS]
        if not decisions:
            if item.offset >= committed.get((item.topic, item.partition), 0):
                out.pending += 1
            else:
                out.gaps.append(Gap("lost", item.position, item.event_id, "no decision audited"))
            continue
        if len(decisions) > 1:
            kinds = ", ".join(r.kind for r in decisions)
            out.gaps.append(Gap("decided_twice", item.position, item.event_id, kinds))
        decision = decisions[0]
        if decision.kind == "duplicate":
            out.duplicates += 1
        elif decision.kind == "dead_letter":
            out.dead_letters += 1
            times = dead_lettered.get(item.position, 0)
            if times != 1:
                kind = "dead_letter_missing" if times == 0 else "dead_lettered_twice"
                out.gaps.append(Gap(kind, item.position, decision.event_id, f"{times} on the DLQ"))
        else:
            out.accepted += 1
            for record in records:
                if record.kind != "delivered":
                    continue
                times = delivered.get((record.subscriber, record.delivery_id), 0)
                out.deliveries += 1
                out.by_subscriber[record.subscriber] += 1
                if times != 1:
                    out.gaps.append(
                        Gap(
                            "delivery_missing" if times == 0 else "delivered_twice",
                            item.position,
                            decision.event_id,
                            f"{record.subscriber}: {times} on its topic",
                        )
                    )
    return out


# ------------------------------------------------------------------------------ IO


def collect(
    bootstrap: str, catalogue: Catalogue, app_id: str, since: dt.datetime
) -> Reconciliation:
    """Read the source topics, the app's audit and progress, the DLQ and the delivery topics
    of every subscriber the audit names, from ``since`` to their current ends."""
    # Progress first: anything committed after this read is merely counted as pending.
    progress = read_progress(bootstrap, app_id)
    committed = {tp: int(str(v["next_offset"])) for tp, v in progress.items()}
    inputs = []
    for topic in sorted({e.topic for e in catalogue}):
        for msg in read_to_end(bootstrap, topic, since=since):
            try:
                event_id = header_dict(msg.headers()).get("ce_id", "")[:128]
            except ValueError:
                event_id = ""
            inputs.append(Input(topic, msg.partition(), msg.offset(), event_id))
    positions = {i.position for i in inputs}
    audit = [
        r
        for r in read_audit(bootstrap, since=since)
        if r.chain.startswith(f"{app_id}|") and r.input in positions
    ]
    delivered: Counter[tuple[str, str]] = Counter()
    for subscriber in sorted({r.subscriber for r in audit if r.kind == "delivered"}):
        for msg in read_to_end(bootstrap, delivery_topic(subscriber), since=since):
            try:
                delivered[(subscriber, header_dict(msg.headers()).get("ce_id", ""))] += 1
            except ValueError:
                continue
    letters = read_dead_letters(bootstrap, since=since)
    dead = Counter(f"{d.source_topic}/{d.source_position}" for d in letters if not d.from_peer)
    from_peers = Counter(d.peer for d in letters if d.peer is not None)
    return reconcile(inputs, audit, delivered, dead, committed, from_peers=from_peers)

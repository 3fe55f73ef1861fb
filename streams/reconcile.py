"""Reconciliation: every input event on the source topics against its outcomes.

Each input must have exactly one decision in the worker's audit (accepted, duplicate or dead
letter); each audited delivery must be on the subscriber's topic exactly once; each audited
dead letter must be on the DLQ exactly once. Inputs past the worker's committed progress are
*pending* (not yet processed), not lost.

A window also holds outcomes of inputs *older* than it: a worker that caught up late, or a
paused one that woke up and committed again. Each delivery written in the window whose input
is older must be the only copy of that delivery since its event's time, and an older input
decided in the window must be decided there once. Pure: the IO is in ``collect``.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from govbus.audit_log import read_audit
from govbus.dlq import read_dead_letters
from govbus.kafka_read import read_to_end
from govbus.schemas.audit import AuditRecord
from govbus.schemas.catalogue import Catalogue
from govbus.schemas.envelope import EnvelopeError, header_dict, parse_time
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


@dataclass(frozen=True)
class Copy:
    """One delivery record on a subscriber's topic."""

    subscriber: str
    delivery_id: str
    position: str  # topic/partition/offset
    event_time: dt.datetime | None = None


def late_copies(
    in_window: Iterable[Copy], audited: Iterable[AuditRecord], window_inputs: set[str]
) -> list[Copy]:
    """Deliveries in the window that no decision on an input inside the window accounts for:
    outcomes of older inputs (or copies nobody audited). The first one of each delivery."""
    accounted = {
        (r.subscriber, r.delivery_id)
        for r in audited
        if r.kind == "delivered" and r.input in window_inputs
    }
    first: dict[tuple[str, str], Copy] = {}
    for copy in in_window:
        key = (copy.subscriber, copy.delivery_id)
        if key not in accounted:
            first.setdefault(key, copy)
    return list(first.values())


def late_gaps(
    late: Iterable[Copy],
    copies_since_event: Mapping[tuple[str, str], int],
    audit: Iterable[AuditRecord],
    window_inputs: set[str],
) -> list[Gap]:
    """Duplicates the window holds for inputs older than it. ``copies_since_event``: each
    late delivery -> its copies on the topic from its event's time (before the window
    included) to now; ``audit``: the window's audit records."""
    event_ids = {(r.subscriber, r.delivery_id): r.event_id for r in audit if r.kind == "delivered"}
    gaps = []
    for copy in late:
        key = (copy.subscriber, copy.delivery_id)
        times = copies_since_event.get(key, 1)
        if times > 1:
            gaps.append(
                Gap(
                    "delivered_twice",
                    copy.position,
                    event_ids.get(key, ""),
                    f"{copy.subscriber}: {times} copies of delivery {copy.delivery_id} on its "
                    "topic, written in the window for an input older than it",
                )
            )
    decisions: dict[str, list[AuditRecord]] = {}
    for record in audit:
        if record.kind in DECISIONS and record.input not in window_inputs:
            decisions.setdefault(record.input, []).append(record)
    for position, records in decisions.items():
        if len(records) > 1:
            kinds = ", ".join(r.kind for r in records)
            detail = f"{kinds}, in the window, for an input older than it"
            gaps.append(Gap("decided_twice", position, records[0].event_id, detail))
    return gaps


# ------------------------------------------------------------------------------ IO


def collect(
    bootstrap: str,
    catalogue: Catalogue,
    app_id: str,
    since: dt.datetime,
    subscribers: Iterable[str] = (),
) -> Reconciliation:
    """Read the source topics, the app's audit and progress, the DLQ and the delivery topics
    of ``subscribers`` and of every subscriber the audit names, from ``since`` to their
    current ends; and, for deliveries in the window of older inputs, their topic's
    partition from the event's time."""
    # Progress first: anything committed after this read is merely counted as pending.
    progress = read_progress(bootstrap, app_id)
    committed = {tp: int(str(v["next_offset"])) for tp, v in progress.items()}
    inputs = []
    for topic in catalogue.event_topics():
        for msg in read_to_end(bootstrap, topic, since=since):
            try:
                event_id = header_dict(msg.headers()).get("ce_id", "")[:128]
            except ValueError:
                event_id = ""
            inputs.append(Input(topic, msg.partition(), msg.offset(), event_id))
    positions = {i.position for i in inputs}
    ours = [r for r in read_audit(bootstrap, since=since) if r.chain.startswith(f"{app_id}|")]
    audit = [r for r in ours if r.input in positions]
    named = {r.subscriber for r in ours if r.kind == "delivered"}
    window = [
        copy
        for subscriber in sorted(named | set(subscribers))
        for copy in _copies(bootstrap, subscriber, since=since)
    ]
    delivered = Counter((c.subscriber, c.delivery_id) for c in window)
    letters = read_dead_letters(bootstrap, since=since)
    dead = Counter(f"{d.source_topic}/{d.source_position}" for d in letters if not d.from_peer)
    from_peers = Counter(d.peer for d in letters if d.peer is not None)
    result = reconcile(inputs, audit, delivered, dead, committed, from_peers=from_peers)
    late = late_copies(window, audit, positions)
    result.gaps += late_gaps(late, _copies_since_event(bootstrap, late), ours, positions)
    return result


# Publishers' and workers' clocks differ a little: look back this much before an event's time.
CLOCK_SKEW = dt.timedelta(minutes=5)


def _copies(
    bootstrap: str,
    subscriber: str,
    *,
    since: dt.datetime,
    partitions: Iterable[int] | None = None,
) -> Iterator[Copy]:
    topic = delivery_topic(subscriber)
    parts = None if partitions is None else set(partitions)
    for msg in read_to_end(bootstrap, topic, since=since, partitions=parts):
        try:
            headers = header_dict(msg.headers())
        except ValueError:
            continue
        try:
            event_time: dt.datetime | None = parse_time(headers.get("ce_time", ""))
        except EnvelopeError:
            event_time = None
        position = f"{topic}/{msg.partition()}/{msg.offset()}"
        yield Copy(subscriber, headers.get("ce_id", ""), position, event_time)


def _copies_since_event(bootstrap: str, late: Iterable[Copy]) -> Counter[tuple[str, str]]:
    """Each late delivery's copies on its partition (a delivery's key, the subject, keeps
    its copies on one partition), read from its event's time: the first copy cannot have
    been written before the event existed."""
    wanted: dict[tuple[str, int], list[Copy]] = {}
    for copy in late:
        partition = int(copy.position.rsplit("/", 2)[1])
        wanted.setdefault((copy.subscriber, partition), []).append(copy)
    counts: Counter[tuple[str, str]] = Counter()
    for (subscriber, partition), copies in sorted(wanted.items()):
        times = [c.event_time for c in copies if c.event_time is not None]
        # Without an event time, the partition from its start.
        start = min(times) - CLOCK_SKEW if len(times) == len(copies) else _EPOCH
        ids = {c.delivery_id for c in copies}
        for copy in _copies(bootstrap, subscriber, since=start, partitions=[partition]):
            if copy.delivery_id in ids:
                counts[(subscriber, copy.delivery_id)] += 1
    return counts


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

"""One batch through the bus: skip what is already committed, validate, deduplicate, route,
project and mask, audit every outcome, then commit all outputs with the progress marker
(next offset + audit chain head per input partition) in one transaction.

The Faust agent hands batches in; Kafka and Redis IO are the sink's and the dedupe store's.
Runs in a worker thread because the confluent-kafka transaction calls block.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from opentelemetry.trace import Link, SpanContext, SpanKind

from govbus import telemetry
from govbus.policy import PolicyDocument, Subscription
from govbus.schema_store import schema_record
from govbus.schemas.audit import GENESIS, ChainState
from govbus.schemas.catalogue import Schema
from govbus.schemas.codec import AvroCodec
from govbus.schemas.topics import DELIVER_PREFIX, SCHEMAS, delivery_topic
from govbus.streams.audit import AuditWriter
from govbus.streams.dedupe import DedupeStore
from govbus.streams.deliver import Projector, dead_letter
from govbus.streams.messages import Accepted, InMessage, Output, Recipients, Rejected
from govbus.streams.routing import Rejection, correction_targets, route
from govbus.streams.sink import progress_output
from govbus.streams.tasks import TP
from govbus.streams.validate import Validator

log = logging.getLogger(__name__)


class Sink(Protocol):
    """What :meth:`Pipeline.process` needs of a sink (a transactional one, or a list in unit
    tests). The worker's runner commits task plans through its own per-task producers."""

    def commit(self, outputs: Sequence[Output]) -> None: ...


@dataclass
class PartitionState:
    next_offset: int = 0
    chain: ChainState = field(default_factory=ChainState)

    @classmethod
    def from_progress(cls, marker: dict[str, object]) -> PartitionState:
        return cls(
            int(str(marker["next_offset"])),
            ChainState(
                int(str(marker.get("audit_seq", 0))), str(marker.get("audit_head", GENESIS))
            ),
        )


@dataclass
class BatchResult:
    counts: Counter[str] = field(default_factory=Counter)
    outputs: int = 0


@dataclass
class TaskPlan:
    """What one task commits for one batch, in one transaction: outputs ending with the
    progress marker of each of its input partitions, and the states those markers hold."""

    outputs: list[Output] = field(default_factory=list)
    states: dict[TP, PartitionState] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)
    delivered_times: list[dt.datetime] = field(default_factory=list)
    schemas: set[bytes] = field(default_factory=set)


@dataclass
class Plan:
    tasks: dict[int, TaskPlan] = field(default_factory=dict)
    result: BatchResult = field(default_factory=BatchResult)


def identities(acc: Accepted) -> list[str]:
    """What makes two inputs the same event: (source, event id), and the catalogue's natural
    key (certificate number, credit code + type...) when it declares one."""
    keys = [f"id:{acc.envelope.source}:{acc.envelope.id}"]
    # A correction restates the natural key of the event it corrects: that is no duplicate.
    if acc.event.dedupe_key and not acc.envelope.corrects:
        values = "|".join(str(acc.record.get(k)) for k in acc.event.dedupe_key)
        digest = hashlib.sha256(f"{acc.event.type}|{values}".encode()).hexdigest()[:40]
        keys.append(f"natural:{digest}")
    return keys


def event_key(source: str, event_id: str) -> str:
    return f"{source}:{event_id}"


@dataclass
class _BatchOutputs:
    outputs: list[Output] = field(default_factory=list)
    writers: dict[TP, AuditWriter] = field(default_factory=dict)
    new_schemas: dict[bytes, Schema] = field(default_factory=dict)
    # Per delivery whose projected schema is not known to be published: its fingerprint.
    unpublished: list[bytes] = field(default_factory=list)
    delivered_times: list[dt.datetime] = field(default_factory=list)
    recipients: dict[str, Recipients] = field(default_factory=dict)
    # Per input partition: its inputs' outputs (slices of ``outputs``), schemas, outcomes.
    by_tp: dict[TP, list[Output]] = field(default_factory=dict)
    schemas_by_tp: dict[TP, list[bytes]] = field(default_factory=dict)
    times_by_tp: dict[TP, list[dt.datetime]] = field(default_factory=dict)
    counts_by_tp: dict[TP, Counter[str]] = field(default_factory=dict)
    spans: telemetry.SpanBatch = field(default_factory=telemetry.SpanBatch)


class _ByType(dict[str, list[Subscription]]):
    """A batch's policy by event type: the active subscriptions naming it (what ``is_live``
    would keep anyway), looked up once per type instead of once per event."""

    def __init__(self, subs: Sequence[Subscription]) -> None:
        super().__init__()
        self._subs = subs

    def __missing__(self, event_type: str) -> list[Subscription]:
        found = [s for s in self._subs if s.status == "active" and event_type in s.event_types]
        self[event_type] = found
        return found


def _one_task(partition: int) -> int:
    return 0


class Pipeline:
    """Decides batches against the state of its input partitions.

    Two states per input partition: *committed* (what the progress marker on Kafka says) and
    *working* (committed plus the batches decided but not yet committed). Deciding the next
    batch builds on the working state while the previous batch commits; a commit that fails
    rewinds its partitions to the committed state, and their inputs are read again.
    """

    def __init__(
        self,
        *,
        app_id: str,
        validator: Validator,
        projector: Projector,
        codec: AvroCodec,
        policy: Callable[[], PolicyDocument],
        sink: Sink | None,
        dedupe: DedupeStore,
        load_progress: Callable[[], dict[TP, dict[str, object]]],
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.app_id = app_id
        self.validator = validator
        self.projector = projector
        self.codec = codec
        self.policy = policy
        self.sink = sink
        self.dedupe = dedupe
        self.clock = clock
        self._load_progress = load_progress
        self._loaded = False
        self._committed: dict[TP, PartitionState] = {}
        self._working: dict[TP, PartitionState] = {}
        self._published: set[bytes] = set()
        self._lock = threading.Lock()
        self.totals: Counter[str] = Counter()
        self.metrics = telemetry.BusMetrics()

    # -- state --------------------------------------------------------------------------

    def load(self, markers: dict[TP, dict[str, object]], tps: Iterable[TP] = ()) -> None:
        """Start ``tps`` (and every partition with a marker) from their committed progress;
        a partition without a marker starts at offset 0 with an empty audit chain."""
        for tp in tps:
            self._committed[tp] = PartitionState()
        for tp, marker in markers.items():
            self._committed[tp] = PartitionState.from_progress(marker)
        for tp in {*tps, *markers}:
            self._working[tp] = copy.deepcopy(self._committed[tp])
        self._loaded = True

    def next_offset(self, tp: TP) -> int:
        """Where reading ``tp`` resumes: its committed progress."""
        return self._committed.get(tp, PartitionState()).next_offset

    def rewind(self, tps: Iterable[TP]) -> None:
        """Forget what was decided for ``tps`` but not committed."""
        for tp in tps:
            self._working[tp] = copy.deepcopy(self._committed.get(tp, PartitionState()))

    def forget(self, tps: Iterable[TP]) -> None:
        """``tps`` belong to another worker now."""
        for tp in tps:
            self._committed.pop(tp, None)
            self._working.pop(tp, None)

    def invalidate_progress(self) -> None:
        """For :meth:`process`: read the progress markers again before the next batch."""
        with self._lock:
            self._loaded = False
            self._committed.clear()
            self._working.clear()

    def chain_id(self, tp: TP) -> str:
        return f"{self.app_id}|{tp[0]}|{tp[1]}"

    # -- one batch ----------------------------------------------------------------------

    def process(self, batch: Sequence[InMessage]) -> BatchResult:
        """Decide and commit one batch in one transaction through ``sink`` (the one-task
        path: unit tests, tools)."""
        if self.sink is None:
            raise TypeError("process() needs a sink")
        with self._lock:
            if not self._loaded:
                self.load(self._load_progress())
            plan = self.decide(batch, _one_task)
            task = plan.tasks.get(0)
            if task is None:
                return plan.result
            try:
                self.sink.commit(task.outputs)
            except BaseException:
                self.rewind(task.states)
                raise
            self.committed(task)
            return plan.result

    def committed(self, task: TaskPlan) -> None:
        """``task``'s transaction committed: its states are now the committed ones."""
        self._committed.update(task.states)
        self._published.update(task.schemas)
        self.totals.update(task.counts)
        done = self.clock()
        for event_time in task.delivered_times:
            self.metrics.event_latency.record(max((done - event_time).total_seconds(), 0.0))

    def decide(self, batch: Sequence[InMessage], task_of: Callable[[int], int]) -> Plan:
        """Every input's outcome and outputs, grouped by task; the working state moves on.
        Redis errors propagate before the working state changes."""
        plan = Plan()
        result = plan.result
        now = self.clock()
        fresh: list[InMessage] = []
        for msg in batch:
            tp = (msg.topic, msg.partition)
            if msg.offset < self._working.get(tp, PartitionState()).next_offset:
                result.counts["already_committed"] += 1
            else:
                fresh.append(msg)
        if not fresh:
            return plan
        started = time.monotonic()
        checked = [self.validator(msg, now) for msg in fresh]
        accepted = [c for c in checked if isinstance(c, Accepted)]
        duplicate_of = self._claims(accepted)
        originals = self._originals(accepted)

        touched = sorted({(m.topic, m.partition) for m in fresh})
        working = {tp: copy.deepcopy(self._working.get(tp, PartitionState())) for tp in touched}
        out = self._decide(
            checked,
            duplicate_of=duplicate_of,
            originals=originals,
            working=working,
            now=now,
            result=result,
        )
        out.spans.flush()
        # Before the commit: a batch that fails is decided again and remembers the same again.
        self.dedupe.remember(out.recipients)
        for tp in touched:
            task = plan.tasks.setdefault(task_of(tp[1]), TaskPlan())
            # Every task that delivers with a schema not yet published carries the schema in
            # its own transaction: tasks commit apart, and a reader must never meet a
            # delivery whose schema is not there (a compacted topic: copies are harmless).
            for fingerprint in out.schemas_by_tp.get(tp, []):
                if fingerprint in task.schemas or fingerprint not in out.new_schemas:
                    continue
                task.outputs.append(
                    Output(SCHEMAS, *schema_record(fingerprint, out.new_schemas[fingerprint]))
                )
                task.schemas.add(fingerprint)
            task.outputs += out.by_tp.get(tp, [])
            task.delivered_times += out.times_by_tp.get(tp, [])
            task.counts.update(out.counts_by_tp.get(tp, Counter()))
        for tp, writer in out.writers.items():
            plan.tasks[task_of(tp[1])].outputs += writer.outputs
        for tp in touched:
            state = working[tp]
            task = plan.tasks[task_of(tp[1])]
            task.outputs.append(
                progress_output(
                    self.app_id,
                    tp,
                    state.next_offset,
                    {"audit_seq": state.chain.seq, "audit_head": state.chain.head},
                )
            )
            task.states[tp] = state
        self._working.update(working)
        for output in out.outputs:
            if output.topic.startswith(DELIVER_PREFIX):
                result.counts["delivered:" + output.topic.removeprefix(DELIVER_PREFIX)] += 1
        result.outputs = sum(len(t.outputs) for t in plan.tasks.values())
        self.metrics.batch_duration.record(time.monotonic() - started)
        return plan

    def _decide(
        self,
        checked: list[Accepted | Rejected],
        *,
        duplicate_of: dict[int, tuple[str, str]],
        originals: dict[str, Recipients | None],
        working: dict[TP, PartitionState],
        now: dt.datetime,
        result: BatchResult,
    ) -> _BatchOutputs:
        """Each input's outcome: dead letter, duplicate, or deliveries; all audited, each
        input a 'process' span in its publisher's trace."""
        out = _BatchOutputs()
        subs = _ByType(self.policy().subscriptions)
        for item in checked:
            msg = item.msg
            tp = (msg.topic, msg.partition)
            state = working.setdefault(tp, PartitionState())
            state.next_offset = max(state.next_offset, msg.offset + 1)
            audit = out.writers.setdefault(tp, AuditWriter(self.chain_id(tp), state.chain, now))
            attributes = telemetry.messaging_attributes(
                "process",
                msg.topic,
                partition=msg.partition,
                offset=msg.offset,
                group=self.app_id,
                message_id=item.envelope.id if isinstance(item, Accepted) else None,
            )
            outputs_before, times_before = len(out.outputs), len(out.delivered_times)
            schemas_before = len(out.unpublished)
            publisher = telemetry.parent_of(msg.headers)
            process = out.spans.child(publisher)
            started = time.time_ns()
            outcome = self._decide_one(
                item,
                duplicate_of=duplicate_of,
                originals=originals,
                subs=subs,
                audit=audit,
                now=now,
                out=out,
                process=process,
            )
            attributes["govbus.outcome"] = outcome
            out.spans.record(
                f"process {msg.topic}",
                process,
                kind=SpanKind.CONSUMER,
                start_ns=started,
                attributes=attributes,
                parent=publisher,
            )
            result.counts[outcome] += 1
            out.by_tp.setdefault(tp, []).extend(out.outputs[outputs_before:])
            out.times_by_tp.setdefault(tp, []).extend(out.delivered_times[times_before:])
            out.schemas_by_tp.setdefault(tp, []).extend(out.unpublished[schemas_before:])
            counts = out.counts_by_tp.setdefault(tp, Counter())
            counts[outcome] += 1
            for output in out.outputs[outputs_before:]:
                if output.topic.startswith(DELIVER_PREFIX):
                    counts["delivered:" + output.topic.removeprefix(DELIVER_PREFIX)] += 1
        return out

    def _decide_one(
        self,
        item: Accepted | Rejected,
        *,
        duplicate_of: dict[int, tuple[str, str]],
        originals: dict[str, Recipients | None],
        subs: _ByType,
        audit: AuditWriter,
        now: dt.datetime,
        out: _BatchOutputs,
        process: SpanContext,
    ) -> str:
        targets: list[Subscription] = []
        if isinstance(item, Accepted) and id(item) not in duplicate_of:
            corrects = item.envelope.corrects
            if corrects is None:
                targets = route(subs[item.event.type], item.event, item.record, now)
            else:
                key = event_key(item.envelope.source, corrects)
                original = out.recipients.get(key) or originals.get(key)
                decided = correction_targets(subs[item.event.type], item.event, original, now)
                if isinstance(decided, Rejection):
                    item = Rejected(item.msg, decided.reason, decided.message)
                else:
                    targets = decided
        if isinstance(item, Rejected):
            out.outputs.append(dead_letter(item, now))
            audit.dead_letter(item)
            self.metrics.dead_letters.add(1, {"reason": item.reason})
            return f"dlq:{item.reason}"
        event_attrs = {"govbus.event.type": item.event.type}
        dup = duplicate_of.get(id(item))
        if dup is not None:
            audit.duplicate(item, *dup)
            self.metrics.duplicates.add(1, {**event_attrs, "key": dup[0].split(":", 1)[0]})
            return "duplicate"
        audit.accepted(item)
        self.metrics.events_in.add(1, event_attrs)
        out.recipients[event_key(item.envelope.source, item.envelope.id)] = Recipients(
            item.event.type, tuple(s.id for s in targets)
        )
        for sub in targets:
            topic = delivery_topic(sub.subscriber)
            # Each delivery a trace of its own, linked to this processing: recipients who
            # shared a trace id could join their copies on it (docs/tracing.md).
            send = out.spans.new_trace(sampled=process.trace_flags.sampled)
            started = time.time_ns()
            delivery = self.projector.deliver(
                item, sub, [("traceparent", telemetry.format_traceparent(send))]
            )
            out.spans.record(
                f"send {topic}",
                send,
                kind=SpanKind.PRODUCER,
                start_ns=started,
                attributes=telemetry.messaging_attributes("send", topic),
                links=(Link(process),),
            )
            out.outputs.append(delivery.output)
            audit.delivered(item, delivery)
            self.metrics.delivered.add(1, {**event_attrs, "subscriber": sub.subscriber})
            out.delivered_times.append(item.envelope.time)
            if delivery.fingerprint not in self._published:
                out.unpublished.append(delivery.fingerprint)
                schema = self.codec.schema(delivery.fingerprint)
                if schema is not None:
                    out.new_schemas[delivery.fingerprint] = schema
        return "accepted"

    def _originals(self, accepted: list[Accepted]) -> dict[str, Recipients | None]:
        """Who received the events that this batch's corrections correct, in one round trip."""
        keys = sorted(
            {
                event_key(a.envelope.source, a.envelope.corrects)
                for a in accepted
                if a.envelope.corrects
            }
        )
        return dict(zip(keys, self.dedupe.recipients(keys), strict=True))

    def _claims(self, accepted: list[Accepted]) -> dict[int, tuple[str, str]]:
        """id(accepted) -> (identity, holder) for the duplicates, in one Redis round trip."""
        keys: list[str] = []
        owners: list[str] = []
        whose: list[Accepted] = []
        for acc in accepted:
            position = f"{acc.msg.topic}/{acc.msg.partition}/{acc.msg.offset}"
            for identity in identities(acc):
                keys.append(identity)
                owners.append(position)
                whose.append(acc)
        found: dict[int, tuple[str, str]] = {}
        if not keys:
            return found
        for acc, identity, holder in zip(whose, keys, self.dedupe.claim(keys, owners), strict=True):
            if holder is not None and id(acc) not in found:
                found[id(acc)] = (identity, holder)
        return found

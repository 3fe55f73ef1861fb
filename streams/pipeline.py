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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from opentelemetry.trace import SpanKind

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
from govbus.streams.sink import TP, progress_output
from govbus.streams.validate import Validator

log = logging.getLogger(__name__)


class Sink(Protocol):
    """What the pipeline needs of a sink (the transactional one, or a list in unit tests)."""

    def commit(self, outputs: Sequence[Output]) -> None: ...


@dataclass
class PartitionState:
    next_offset: int = 0
    chain: ChainState = field(default_factory=ChainState)


@dataclass
class BatchResult:
    counts: Counter[str] = field(default_factory=Counter)
    outputs: int = 0


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
    delivered_times: list[dt.datetime] = field(default_factory=list)
    recipients: dict[str, Recipients] = field(default_factory=dict)


class Pipeline:
    def __init__(
        self,
        *,
        app_id: str,
        validator: Validator,
        projector: Projector,
        codec: AvroCodec,
        policy: Callable[[], PolicyDocument],
        sink: Sink,
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
        self._state: dict[TP, PartitionState] | None = None
        self._published: set[bytes] = set()
        self._lock = threading.Lock()
        self.totals: Counter[str] = Counter()
        self.metrics = telemetry.BusMetrics()

    def invalidate_progress(self) -> None:
        """After a rebalance another worker may have committed progress for our partitions."""
        with self._lock:
            self._state = None

    def _committed(self) -> dict[TP, PartitionState]:
        if self._state is None:
            self._state = {
                tp: PartitionState(
                    int(str(v["next_offset"])),
                    ChainState(int(str(v.get("audit_seq", 0))), str(v.get("audit_head", GENESIS))),
                )
                for tp, v in self._load_progress().items()
            }
        return self._state

    def chain_id(self, tp: TP) -> str:
        return f"{self.app_id}|{tp[0]}|{tp[1]}"

    def process(self, batch: Sequence[InMessage]) -> BatchResult:
        with self._lock:
            return self._process(batch)

    def _process(self, batch: Sequence[InMessage]) -> BatchResult:
        result = BatchResult()
        committed = self._committed()
        now = self.clock()
        fresh: list[InMessage] = []
        for msg in batch:
            if msg.offset < committed.get((msg.topic, msg.partition), PartitionState()).next_offset:
                result.counts["already_committed"] += 1
            else:
                fresh.append(msg)
        if not fresh:
            return result
        checked = [self.validator(msg, now) for msg in fresh]
        accepted = [c for c in checked if isinstance(c, Accepted)]
        duplicate_of = self._claims(accepted)
        originals = self._originals(accepted)

        working = {tp: copy.deepcopy(st) for tp, st in committed.items()}
        started = time.monotonic()
        out = self._decide(
            checked,
            duplicate_of=duplicate_of,
            originals=originals,
            working=working,
            now=now,
            result=result,
        )
        for output in out.outputs:
            if output.topic.startswith(DELIVER_PREFIX):
                result.counts["delivered:" + output.topic.removeprefix(DELIVER_PREFIX)] += 1
        touched = {(m.topic, m.partition) for m in fresh}
        everything = [Output(SCHEMAS, *schema_record(fp, s)) for fp, s in out.new_schemas.items()]
        everything += out.outputs
        for writer in out.writers.values():
            everything += writer.outputs
        everything += [
            progress_output(
                self.app_id,
                tp,
                working[tp].next_offset,
                {"audit_seq": working[tp].chain.seq, "audit_head": working[tp].chain.head},
            )
            for tp in sorted(touched)
        ]
        # Before the commit: a batch that fails is reprocessed and remembers the same again.
        self.dedupe.remember(out.recipients)
        self.sink.commit(everything)
        for tp in touched:
            committed[tp] = working[tp]
        self._published.update(out.new_schemas)
        self.metrics.batch_duration.record(time.monotonic() - started)
        done = self.clock()
        for event_time in out.delivered_times:
            self.metrics.event_latency.record(max((done - event_time).total_seconds(), 0.0))
        result.outputs = len(everything)
        self.totals.update(result.counts)
        return result

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
        subs = self.policy().subscriptions
        tracer = telemetry.tracer()
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
            with tracer.start_as_current_span(
                f"process {msg.topic}",
                context=telemetry.extract(msg.headers),
                kind=SpanKind.CONSUMER,
                attributes=attributes,
            ) as span:
                outcome = self._decide_one(
                    item,
                    duplicate_of=duplicate_of,
                    originals=originals,
                    subs=subs,
                    audit=audit,
                    now=now,
                    out=out,
                )
                span.set_attribute("govbus.outcome", outcome)
                result.counts[outcome] += 1
        return out

    def _decide_one(
        self,
        item: Accepted | Rejected,
        *,
        duplicate_of: dict[int, tuple[str, str]],
        originals: dict[str, Recipients | None],
        subs: Sequence[Subscription],
        audit: AuditWriter,
        now: dt.datetime,
        out: _BatchOutputs,
    ) -> str:
        targets: list[Subscription] = []
        if isinstance(item, Accepted) and id(item) not in duplicate_of:
            corrects = item.envelope.corrects
            if corrects is None:
                targets = route(subs, item.event, item.record, now)
            else:
                key = event_key(item.envelope.source, corrects)
                original = out.recipients.get(key) or originals.get(key)
                decided = correction_targets(subs, item.event, original, now)
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
            with telemetry.linked_trace(
                f"send {topic}",
                kind=SpanKind.PRODUCER,
                attributes=telemetry.messaging_attributes("send", topic),
            ):
                delivery = self.projector.deliver(item, sub, telemetry.inject([]))
            out.outputs.append(delivery.output)
            audit.delivered(item, delivery)
            self.metrics.delivered.add(1, {**event_attrs, "subscriber": sub.subscriber})
            out.delivered_times.append(item.envelope.time)
            if delivery.fingerprint not in self._published:
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

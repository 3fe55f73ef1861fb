"""One batch through the bus: skip what is already committed, validate, route, project and
mask, dead-letter what fails, then commit all outputs with progress in one transaction.

The Faust agent hands batches in; Kafka IO is the sink's. Runs in a worker thread because
the confluent-kafka transaction calls block.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from govbus.policy import PolicyDocument
from govbus.schema_store import schema_record
from govbus.schemas.catalogue import Schema
from govbus.schemas.codec import AvroCodec
from govbus.schemas.topics import SCHEMAS
from govbus.streams.deliver import Projector, dead_letter
from govbus.streams.messages import Accepted, InMessage, Output
from govbus.streams.routing import route
from govbus.streams.sink import TP, progress_output
from govbus.streams.validate import Validator

log = logging.getLogger(__name__)
PASS_THROUGH_HEADERS = ("traceparent", "tracestate")


class Sink(Protocol):
    """What the pipeline needs of a sink (the transactional one, or a list in unit tests)."""

    def commit(self, outputs: Sequence[Output]) -> None: ...


@dataclass
class BatchResult:
    counts: Counter[str] = field(default_factory=Counter)
    outputs: int = 0


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
        load_progress: Callable[[], dict[TP, dict[str, object]]],
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.app_id = app_id
        self.validator = validator
        self.projector = projector
        self.codec = codec
        self.policy = policy
        self.sink = sink
        self.clock = clock
        self._load_progress = load_progress
        self._next_offset: dict[TP, int] | None = None
        self._published: set[bytes] = set()
        self._lock = threading.Lock()
        self.totals: Counter[str] = Counter()

    def invalidate_progress(self) -> None:
        """After a rebalance another worker may have committed progress for our partitions."""
        self._next_offset = None

    def _progress(self) -> dict[TP, int]:
        if self._next_offset is None:
            loaded = self._load_progress()
            self._next_offset = {tp: int(str(v["next_offset"])) for tp, v in loaded.items()}
        return self._next_offset

    def process(self, batch: Sequence[InMessage]) -> BatchResult:
        with self._lock:
            return self._process(batch)

    def _process(self, batch: Sequence[InMessage]) -> BatchResult:
        result = BatchResult()
        committed = self._progress()
        now = self.clock()
        subs = self.policy().subscriptions
        outputs: list[Output] = []
        new_schemas: dict[bytes, Schema] = {}
        advanced: dict[TP, int] = {}
        for msg in batch:
            tp = (msg.topic, msg.partition)
            if msg.offset < committed.get(tp, 0):
                result.counts["already_committed"] += 1
                continue
            advanced[tp] = max(advanced.get(tp, 0), msg.offset + 1)
            checked = self.validator(msg, now)
            if not isinstance(checked, Accepted):
                outputs.append(dead_letter(checked, now))
                result.counts[f"dlq:{checked.reason}"] += 1
                continue
            result.counts["accepted"] += 1
            passthrough = [(k, v) for k, v in msg.headers if k in PASS_THROUGH_HEADERS]
            for sub in route(subs, checked.event, checked.record, now):
                delivery = self.projector.deliver(checked, sub, passthrough)
                outputs.append(delivery.output)
                result.counts[f"delivered:{sub.subscriber}"] += 1
                if delivery.fingerprint not in self._published:
                    schema = self.codec.schema(delivery.fingerprint)
                    if schema is not None:
                        new_schemas[delivery.fingerprint] = schema
        if not advanced:
            return result
        schema_outputs = [Output(SCHEMAS, *schema_record(fp, s)) for fp, s in new_schemas.items()]
        progress = [progress_output(self.app_id, tp, off, {}) for tp, off in advanced.items()]
        everything = schema_outputs + outputs + progress
        self.sink.commit(everything)
        committed.update(advanced)
        self._published.update(new_schemas)
        result.outputs = len(everything)
        self.totals.update(result.counts)
        return result

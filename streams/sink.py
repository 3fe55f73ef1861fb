"""Writes one task's outputs and its progress markers in one Kafka transaction.

Either everything a batch produced for a task (deliveries, audit, dead letters, progress)
becomes visible to read_committed readers, or nothing does; whoever takes the task over
reads the progress markers and skips what was committed.

Each task has its own transactional id (``streams.tasks``). Initialising it fences every
earlier holder: their open transaction is aborted and any later commit of theirs fails with
:class:`Fenced`. A fenced producer is never re-initialised on its own -- that would fence the
task's new owner -- the worker gives the task up until the group assigns it again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from typing import Any, cast

from confluent_kafka import KafkaError, KafkaException, Producer

from govbus.kafka_config import client_config
from govbus.kafka_read import read_to_end
from govbus.schemas.envelope import KafkaHeaders
from govbus.schemas.topics import PROGRESS
from govbus.streams.messages import Output
from govbus.streams.tasks import TP

log = logging.getLogger(__name__)

FENCED_CODES = frozenset(
    {KafkaError._FENCED, KafkaError.PRODUCER_FENCED, KafkaError.INVALID_PRODUCER_EPOCH}
)


class Fenced(Exception):  # noqa: N818 - a state, like Kafka's own ProducerFenced
    """Another worker initialised this task's transactional id: this one lost the task."""


class ProducerBroken(Exception):  # noqa: N818
    """A fatal producer error that is not fencing; a new producer (re-fencing) is needed."""


def progress_key(app_id: str, tp: TP) -> bytes:
    return f"{app_id}|{tp[0]}|{tp[1]}".encode()


def progress_output(app_id: str, tp: TP, next_offset: int, state: dict[str, object]) -> Output:
    value = json.dumps({"next_offset": next_offset, **state}, sort_keys=True).encode()
    return Output(PROGRESS, progress_key(app_id, tp), value)


def producer_config(bootstrap: str, transactional_id: str, **extra: Any) -> dict[str, Any]:
    return client_config(
        bootstrap,
        **{
            "transactional.id": transactional_id,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 2,
            "compression.type": "lz4",
            "transaction.timeout.ms": 60000,
            "message.max.bytes": 2_000_000,
            **extra,
        },
    )


class TransactionalProducer:
    """One transactional id's producer. Construction fences earlier holders of the id."""

    def __init__(self, config: dict[str, Any], init_timeout_s: float = 60) -> None:
        self.transactional_id = str(config["transactional.id"])
        self._producer = Producer(config)
        try:
            self._producer.init_transactions(init_timeout_s)
        except KafkaException:
            self._producer.flush(0)
            raise

    def commit(self, outputs: Sequence[Output]) -> None:
        """Blocking. Raises :class:`Fenced`, :class:`ProducerBroken`, or KafkaException for a
        transaction that was aborted and may be retried; in every case nothing is visible."""
        producer = self._producer
        try:
            producer.begin_transaction()
            for out in outputs:
                while True:
                    try:
                        producer.produce(
                            out.topic, out.value, out.key, headers=cast(KafkaHeaders, out.headers)
                        )
                        break
                    except BufferError:
                        producer.poll(0.05)
            producer.commit_transaction(60)
        except KafkaException as exc:
            self._fail(exc)

    def _fail(self, exc: KafkaException) -> None:
        err: KafkaError = exc.args[0]
        if err.code() in FENCED_CODES:
            raise Fenced(f"{self.transactional_id}: {err.str()}") from None
        if err.fatal():
            raise ProducerBroken(f"{self.transactional_id}: {err.str()}") from None
        try:
            self._producer.abort_transaction(30)
        except KafkaException as again:
            code = again.args[0].code()
            if code in FENCED_CODES:
                raise Fenced(f"{self.transactional_id}: {again.args[0].str()}") from None
            raise ProducerBroken(f"{self.transactional_id}: {again.args[0].str()}") from None
        raise exc

    def close(self) -> None:
        self._producer.flush(5)


class TransactionalSink:
    """One batch = one transaction under a fixed id (unit tools, the profiler, tests): a
    broken producer is replaced, a fenced one is not."""

    def __init__(
        self, bootstrap: str, transactional_id: str, extra: dict[str, str] | None = None
    ) -> None:
        self._config = producer_config(bootstrap, transactional_id, **(extra or {}))
        self._producer = TransactionalProducer(self._config)

    def commit(self, outputs: Sequence[Output]) -> None:
        try:
            self._producer.commit(outputs)
        except ProducerBroken:
            log.error("fatal producer error, recreating producer")
            self._producer = TransactionalProducer(self._config)
            raise

    def close(self) -> None:
        self._producer.close()


def read_progress(
    bootstrap: str,
    app_id: str,
    extra: dict[str, str] | None = None,
    *,
    only: Iterable[TP] | None = None,
) -> dict[TP, dict[str, object]]:
    """The latest committed progress marker for every input partition of this app (or for
    the partitions in ``only``)."""
    prefix = f"{app_id}|"
    wanted = None if only is None else set(only)
    out: dict[TP, dict[str, object]] = {}
    for msg in read_to_end(bootstrap, PROGRESS, extra):
        key = msg.key().decode() if msg.key() else ""
        if not key.startswith(prefix):
            continue
        _, topic, partition = key.rsplit("|", 2)
        tp = (topic, int(partition))
        if wanted is not None and tp not in wanted:
            continue
        if msg.value() is None:
            out.pop(tp, None)
        else:
            out[tp] = json.loads(msg.value())
    return out

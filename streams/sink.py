"""Writes one batch's outputs and its progress markers in one Kafka transaction.

Either everything a batch produced (deliveries, audit, dead letters, progress) becomes
visible to read_committed readers, or nothing does; a restarted worker reads the
progress markers and skips what was committed. This is why double delivery cannot
happen across a crash, whatever Faust's own offset commits did.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import cast

from confluent_kafka import KafkaError, KafkaException, Producer

from govbus.kafka_config import client_config
from govbus.kafka_read import read_to_end
from govbus.schemas.envelope import KafkaHeaders
from govbus.schemas.topics import PROGRESS
from govbus.streams.messages import Output

log = logging.getLogger(__name__)
TP = tuple[str, int]


def progress_key(app_id: str, tp: TP) -> bytes:
    return f"{app_id}|{tp[0]}|{tp[1]}".encode()


def progress_output(app_id: str, tp: TP, next_offset: int, state: dict[str, object]) -> Output:
    value = json.dumps({"next_offset": next_offset, **state}, sort_keys=True).encode()
    return Output(PROGRESS, progress_key(app_id, tp), value)


class TransactionalSink:
    def __init__(
        self, bootstrap: str, transactional_id: str, extra: dict[str, str] | None = None
    ) -> None:
        self._config = {
            **client_config(bootstrap),
            "transactional.id": transactional_id,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            "compression.type": "lz4",
            "transaction.timeout.ms": 60000,
            "message.max.bytes": 2_000_000,
            **(extra or {}),
        }
        self._producer = self._new_producer()

    def _new_producer(self) -> Producer:
        producer = Producer(self._config)
        # Fences any earlier incarnation with the same transactional id and aborts its
        # open transaction.
        producer.init_transactions(60)
        return producer

    def commit(self, outputs: Sequence[Output]) -> None:
        """Blocking; raises KafkaException if the batch could not be committed (nothing visible)."""
        producer = self._producer
        producer.begin_transaction()
        try:
            for out in outputs:
                while True:
                    try:
                        producer.produce(
                            out.topic, out.value, out.key, headers=cast(KafkaHeaders, out.headers)
                        )
                        break
                    except BufferError:
                        producer.poll(0.05)
                producer.poll(0)
            producer.commit_transaction(60)
        except KafkaException as exc:
            self._recover(exc)
            raise

    def _recover(self, exc: KafkaException) -> None:
        err: KafkaError = exc.args[0]
        if err.fatal():
            log.error("fatal producer error, recreating producer", extra={"error": err.str()})
            self._producer = self._new_producer()
            return
        try:
            self._producer.abort_transaction(30)
        except KafkaException:
            self._producer = self._new_producer()

    def close(self) -> None:
        self._producer.flush(10)


def read_progress(
    bootstrap: str, app_id: str, extra: dict[str, str] | None = None
) -> dict[TP, dict[str, object]]:
    """The latest committed progress marker for every input partition of this app."""
    prefix = f"{app_id}|"
    out: dict[TP, dict[str, object]] = {}
    for msg in read_to_end(bootstrap, PROGRESS, extra):
        key = msg.key().decode() if msg.key() else ""
        if key.startswith(prefix) and msg.value() is not None:
            _, topic, partition = key.split("|")
            out[(topic, int(partition))] = json.loads(msg.value())
    return out

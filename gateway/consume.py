"""Pull, ack and replay on a subscriber's own delivery topic (the topic name is derived from
the authenticated department, never taken from the client). Thin Kafka IO; cursors are the
only state, so any gateway instance can serve any request."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from dataclasses import dataclass

from confluent_kafka import OFFSET_INVALID, Consumer, KafkaException, TopicPartition

from govbus.gateway.problems import Problem
from govbus.gateway.reader import DeliveryDecoder, Received
from govbus.kafka_config import client_config
from govbus.schemas.topics import consumer_group, delivery_topic

GROUP = "gateway"
DATA_FETCH_S = 5.0


@dataclass
class Page:
    events: list[tuple[Received, dict[int, int]]]  # each event with the cursor after it
    cursor: dict[int, int]


class Consumption:
    def __init__(self, bootstrap: str, decoder: DeliveryDecoder) -> None:
        self.bootstrap = bootstrap
        self.decoder = decoder

    def _consumer(self, subscriber: str) -> Consumer:
        return Consumer(
            {
                **client_config(self.bootstrap),
                "group.id": consumer_group(subscriber, GROUP),
                "client.id": f"govbus-gateway-{uuid.uuid4().hex[:6]}",
                "isolation.level": "read_committed",
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "log_level": 3,
            }
        )

    def partitions(self, consumer: Consumer, subscriber: str) -> list[int]:
        topic = delivery_topic(subscriber)
        meta = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if meta is None or meta.error is not None:
            raise Problem(
                404,
                "no-subscription",
                f"{subscriber} has no delivery topic: no subscription was ever granted",
            )
        return sorted(meta.partitions)

    def start_positions(
        self, consumer: Consumer, subscriber: str, parts: list[int], from_time: dt.datetime | None
    ) -> dict[int, int]:
        topic = delivery_topic(subscriber)
        if from_time is not None:
            stamp = int(from_time.timestamp() * 1000)
            found = consumer.offsets_for_times(
                [TopicPartition(topic, p, stamp) for p in parts], timeout=10
            )
            out = {}
            for tp in found:
                if tp.offset < 0:  # nothing at or after that time: the end
                    tp.offset = consumer.get_watermark_offsets(
                        TopicPartition(topic, tp.partition), timeout=10
                    )[1]
                out[tp.partition] = tp.offset
            return out
        committed = consumer.committed([TopicPartition(topic, p) for p in parts], timeout=10)
        return {
            tp.partition: (tp.offset if tp.offset != OFFSET_INVALID and tp.offset >= 0 else 0)
            for tp in committed
        }

    def pull(
        self,
        subscriber: str,
        *,
        cursor: dict[int, int] | None,
        limit: int,
        wait_s: float,
        from_time: dt.datetime | None = None,
    ) -> Page:
        consumer = self._consumer(subscriber)
        try:
            topic = delivery_topic(subscriber)
            parts = self.partitions(consumer, subscriber)
            positions = self.start_positions(consumer, subscriber, parts, from_time)
            positions.update(cursor or {})
            highs = {
                p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                for p in parts
            }
            # Every transaction ends with a commit marker, so records remain iff a position
            # is below the partition's last offset (the final marker).
            waiting = any(positions.get(p, 0) < high - 1 for p, high in highs.items())
            consumer.assign([TopicPartition(topic, p, positions.get(p, 0)) for p in parts])
            events: list[tuple[Received, dict[int, int]]] = []
            started = time.monotonic()
            deadline = started + wait_s
            data_deadline = started + max(wait_s, DATA_FETCH_S)
            while len(events) < limit:
                batch = consumer.consume(min(limit - len(events), 500), 0.2)
                for msg in batch:
                    if msg.error() is not None:
                        continue
                    positions[msg.partition() or 0] = (msg.offset() or 0) + 1
                    events.append((self.decoder.decode(msg), dict(positions)))
                if batch:
                    continue
                if events:
                    break  # return what is there
                now = time.monotonic()
                # Nothing yet: wait for data known to be there (a fresh consumer's first
                # fetch takes a moment), or long-poll up to wait_s for new data.
                if now > data_deadline or (now > deadline and not waiting):
                    break
            return Page(events, positions)
        except KafkaException as exc:
            raise Problem(
                503, "kafka-unavailable", f"the event store did not answer: {exc}"
            ) from None
        finally:
            consumer.close()

    def ack(self, subscriber: str, positions: dict[int, int]) -> None:
        """Commit the cursor for the subscriber's consumer group (at-least-once)."""
        consumer = self._consumer(subscriber)
        try:
            topic = delivery_topic(subscriber)
            self.partitions(consumer, subscriber)
            consumer.commit(
                offsets=[TopicPartition(topic, p, o) for p, o in positions.items()],
                asynchronous=False,
            )
        except KafkaException as exc:
            raise Problem(503, "kafka-unavailable", f"the ack was not stored: {exc}") from None
        finally:
            consumer.close()

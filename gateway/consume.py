"""Pull, ack and replay on a subscriber's own delivery topic (the topic name is derived from
the authenticated department, never taken from the client). Cursors are the only state a
client relies on, so any gateway instance can serve any request.

Reads go through per-department windows (window.py): a long-lived tail consumer reads the
department's topic once and every reader near that position is served from memory. A
department has a few windows, so readers far apart (a replay from the start while others
follow the tail) each share one. Readers no window can take read Kafka directly with a
consumer from a small pool."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from confluent_kafka import OFFSET_INVALID, Consumer, KafkaException, Message, TopicPartition
from fastapi.concurrency import run_in_threadpool
from opentelemetry import metrics

from govbus.delivery_reader import DeliveryDecoder, Received
from govbus.gateway.problems import Problem
from govbus.gateway.window import Window
from govbus.kafka_config import client_config
from govbus.schemas.topics import consumer_group, delivery_topic
from govbus.telemetry import TRACER

GROUP = "gateway"
DATA_FETCH_S = 5.0  # how long to wait for records known to be there (a first fetch)
FETCH_SLICE_S = 0.25  # one tail read; the feed's lock is free between slices
RESTART_AFTER_IDLE_S = 5.0  # a window nobody read from for this long may move elsewhere
FEED_IDLE_S = 300.0  # a window unused this long is closed
FEEDS_PER_DEPARTMENT = 4  # windows (each with a tail consumer) per department
PARTITIONS_TTL_S = 30.0
POOL_IDLE_MAX = 4  # idle direct-read consumers kept per department


def consume_ready(consumer: Consumer, n: int, wait_s: float) -> list[Message]:
    """Up to n messages, returning as soon as there are some: ``consume(n, t)`` alone waits
    the whole t unless n are queued (measured: a quarter second per page of a pull)."""
    batch = consumer.consume(n, 0)
    if batch:
        return batch
    batch = consumer.consume(1, wait_s)
    return batch + consumer.consume(n - 1, 0) if batch and n > 1 else batch


@dataclass
class Page:
    events: list[tuple[Received, dict[int, int]]]  # each event with the cursor after it
    cursor: dict[int, int]


Served = list[tuple[int, int, Received]]  # (partition, offset, delivery)


class DepartmentFeed:
    """One window on a department's topic and the tail consumer that extends it. Readers
    wait on an asyncio lock, not in threads; only the Kafka read runs in a worker thread."""

    def __init__(
        self, topic: str, tail: Consumer, decoder: DeliveryDecoder, per_partition: int
    ) -> None:
        self.topic = topic
        self.window: Window[Received] = Window(per_partition)
        self.decoder = decoder
        self.lock = asyncio.Lock()
        self.used = self.served = time.monotonic()
        self._tail = tail

    def close(self) -> None:
        self._tail.close()

    async def read(self, positions: dict[int, int], limit: int, wait_s: float) -> Served | None:
        """Up to ``limit`` deliveries after ``positions``; None if the window does not cover
        them (any more: it moves on and trims behind)."""
        started = self.used = time.monotonic()
        deadline, data_deadline = started + wait_s, started + max(wait_s, DATA_FETCH_S)
        while True:
            if not self.window.covers(positions):
                return None
            served = self.window.take(positions, limit)
            if served and len(served) < limit and not self.lock.locked():
                # A short page may only mean the tail has not been read since: take what
                # the consumer already holds (no wait), or a reader re-polling one
                # position would get the same partial page forever.
                async with self.lock:
                    if self.window.covers(positions):
                        self._extend(await run_in_threadpool(self._fetch, limit, 0.0))
                if not self.window.covers(positions):
                    return None
                served = self.window.take(positions, limit)
            if served:
                self.served = time.monotonic()
                return served
            self.served = now = time.monotonic()
            if now >= data_deadline:
                return []
            try:
                async with asyncio.timeout(data_deadline - now):
                    await self.lock.acquire()
            except TimeoutError:
                return []
            try:
                if not self.window.covers(positions) or self.window.take(positions, 1):
                    # While we waited another reader extended the window, or trimmed
                    # our position away (then the loop sends us to Kafka directly).
                    continue
                fetched = await run_in_threadpool(self._fetch, limit, FETCH_SLICE_S)
                self._extend(fetched)
                if fetched or time.monotonic() < deadline:
                    continue
                if not await run_in_threadpool(self._pending):
                    return []
            finally:
                self.lock.release()

    def idle(self, now: float) -> bool:
        return now - self.served >= RESTART_AFTER_IDLE_S and not self.lock.locked()

    def restart(self, positions: dict[int, int]) -> None:
        """Move the (idle) window to these positions. Synchronous, so no other reader can
        slip in between the choice of this window and the move."""
        self.window.restart(positions)
        self._tail.assign([TopicPartition(self.topic, p, o) for p, o in positions.items()])
        self.served = time.monotonic()

    def _extend(self, fetched: dict[int, list[tuple[int, Received]]]) -> None:
        for part, got in fetched.items():  # here, not in the thread: readers take
            self.window.extend(part, got, got[-1][0] + 1)

    def _fetch(self, limit: int, wait_s: float) -> dict[int, list[tuple[int, Received]]]:
        """One tail read, decoded, by partition (a worker thread; the lock is held). No
        more than the window keeps, so the trim after it cannot drop what a reader fetched
        for itself."""
        records: dict[int, list[tuple[int, Received]]] = {}
        limit = min(limit, self.window.per_partition, 500)
        for msg in consume_ready(self._tail, limit, wait_s):
            if msg.error() is None:
                part, offset = msg.partition() or 0, msg.offset() or 0
                records.setdefault(part, []).append((offset, self.decoder.decode(msg)))
        return records

    def _pending(self) -> bool:
        """Records committed beyond the window's end? Every transaction ends with a commit
        marker, so a position below the partition's last offset means records remain."""
        return any(
            end < self._tail.get_watermark_offsets(TopicPartition(self.topic, p), timeout=10)[1] - 1
            for p, end in self.window.ends().items()
        )


class Consumption:
    def __init__(self, bootstrap: str, decoder: DeliveryDecoder, window_events: int = 2000) -> None:
        self.bootstrap = bootstrap
        self.decoder = decoder
        self.window_events = window_events
        self._feeds: dict[str, list[DepartmentFeed]] = {}
        self._idle: dict[str, list[Consumer]] = {}
        self._pool_lock = threading.Lock()
        self._parts: dict[str, tuple[float, list[int]]] = {}
        self.reads: Counter[str] = Counter()  # pages served, by source: window or kafka
        self._reads_metric = metrics.get_meter(TRACER).create_counter(
            "govbus.gateway.reads", description="Pages served, by source (window or kafka)"
        )

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

    @contextmanager
    def _borrowed(self, subscriber: str) -> Iterator[Consumer]:
        """A consumer from the department's pool (or a new one); back to the pool after a
        clean use, closed after a failed one."""
        with self._pool_lock:
            idle = self._idle.setdefault(subscriber, [])
            consumer = idle.pop() if idle else None
        consumer = consumer or self._consumer(subscriber)
        try:
            yield consumer
        except BaseException:
            consumer.close()
            raise
        with self._pool_lock:
            if len(idle) < POOL_IDLE_MAX:
                idle.append(consumer)
                return
        consumer.close()

    def partitions(self, subscriber: str) -> list[int]:
        cached = self._parts.get(subscriber)
        if cached is not None and time.monotonic() - cached[0] < PARTITIONS_TTL_S:
            return cached[1]
        topic = delivery_topic(subscriber)
        with self._borrowed(subscriber) as consumer:
            meta = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if meta is None or meta.error is not None:
            raise Problem(
                404,
                "no-subscription",
                f"{subscriber} has no delivery topic: no subscription was ever granted",
            )
        parts = sorted(meta.partitions)
        self._parts[subscriber] = (time.monotonic(), parts)
        return parts

    def start_positions(
        self, subscriber: str, parts: list[int], from_time: dt.datetime | None
    ) -> dict[int, int]:
        topic = delivery_topic(subscriber)
        with self._borrowed(subscriber) as consumer:
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

    def _positions(
        self, subscriber: str, cursor: dict[int, int] | None, from_time: dt.datetime | None
    ) -> dict[int, int]:
        parts = self.partitions(subscriber)
        given = cursor or {}
        if from_time is None and all(p in given for p in parts):
            return {p: given[p] for p in parts}
        start = self.start_positions(subscriber, parts, from_time)
        return {p: given.get(p, start.get(p, 0)) for p in parts}

    async def pull(
        self,
        subscriber: str,
        *,
        cursor: dict[int, int] | None,
        limit: int,
        wait_s: float,
        from_time: dt.datetime | None = None,
    ) -> Page:
        try:
            positions = await run_in_threadpool(self._positions, subscriber, cursor, from_time)
            feed = self._feed(subscriber, positions)
            served = None if feed is None else await feed.read(positions, limit, wait_s)
            self._count("kafka" if served is None else "window")
            if served is None:
                return await run_in_threadpool(self._direct, subscriber, positions, limit, wait_s)
        except KafkaException as exc:
            raise Problem(
                503, "kafka-unavailable", f"the event store did not answer: {exc}"
            ) from None
        events = []
        for part, offset, item in served:
            positions[part] = offset + 1
            events.append((item, dict(positions)))
        return Page(events, positions)

    def _count(self, source: str) -> None:
        self.reads[source] += 1
        self._reads_metric.add(1, {"source": source})

    def _feed(self, subscriber: str, positions: dict[int, int]) -> DepartmentFeed | None:
        """The window covering these positions; else a new one, or an idle one moved
        there; else None (every window busy elsewhere: read Kafka directly)."""
        now = time.monotonic()
        self._sweep(now)
        feeds = self._feeds.setdefault(subscriber, [])
        for feed in feeds:
            if feed.window.covers(positions):
                return feed
        if len(feeds) < FEEDS_PER_DEPARTMENT:
            feed = DepartmentFeed(
                delivery_topic(subscriber),
                self._consumer(subscriber),
                self.decoder,
                self.window_events,
            )
            feeds.append(feed)
        else:
            idle = [f for f in feeds if f.idle(now)]
            if not idle:
                return None
            feed = min(idle, key=lambda f: f.served)
        feed.restart(positions)
        return feed

    def _sweep(self, now: float) -> None:
        for feeds in self._feeds.values():
            for feed in [f for f in feeds if now - f.used > FEED_IDLE_S and not f.lock.locked()]:
                feeds.remove(feed)
                feed.close()

    def _direct(
        self, subscriber: str, positions: dict[int, int], limit: int, wait_s: float
    ) -> Page:
        """Read Kafka from these positions with a pooled consumer (a worker thread)."""
        topic = delivery_topic(subscriber)
        with self._borrowed(subscriber) as consumer:
            highs = {
                p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                for p in positions
            }
            waiting = any(positions[p] < high - 1 for p, high in highs.items())
            consumer.assign([TopicPartition(topic, p, o) for p, o in positions.items()])
            events: list[tuple[Received, dict[int, int]]] = []
            started = time.monotonic()
            deadline = started + wait_s
            data_deadline = started + max(wait_s, DATA_FETCH_S)
            while len(events) < limit:
                batch = consume_ready(consumer, min(limit - len(events), 500), 0.2)
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
                # Nothing yet: wait for data known to be there (a first fetch takes a
                # moment), or long-poll up to wait_s for new data.
                if now > data_deadline or (now > deadline and not waiting):
                    break
            consumer.unassign()
        return Page(events, positions)

    def ack(self, subscriber: str, positions: dict[int, int]) -> None:
        """Commit the cursor for the subscriber's consumer group (at-least-once)."""
        topic = delivery_topic(subscriber)
        try:
            self.partitions(subscriber)
            with self._borrowed(subscriber) as consumer:
                consumer.commit(
                    offsets=[TopicPartition(topic, p, o) for p, o in positions.items()],
                    asynchronous=False,
                )
        except KafkaException as exc:
            raise Problem(503, "kafka-unavailable", f"the ack was not stored: {exc}") from None

    def close(self) -> None:
        for feeds in self._feeds.values():
            for feed in feeds:
                feed.close()
        self._feeds.clear()
        with self._pool_lock:
            for idle in self._idle.values():
                for consumer in idle:
                    consumer.close()
            self._idle.clear()

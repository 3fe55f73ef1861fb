"""What the benchmark's parts share: the subscriptions, a bench worker that has caught up,
arrival counting on delivery topics, steady-state windows and a process's CPU time."""

from __future__ import annotations

import datetime as dt
import os
import random
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from confluent_kafka import Consumer, Producer, TopicPartition

from govbus.adapters.publisher import EventEncoder, Prepared
from govbus.config import ConnectionSettings, LocalRuntimeSettings, load
from govbus.schemas.audit import GENESIS
from govbus.schemas.catalogue import default_catalogue
from govbus.schemas.topics import delivery_topic
from govbus.streams.sink import progress_output, read_progress
from govbus_devtools.demo.sample_data import birth
from govbus_devtools.devenv.worker import WorkerProcess

BIRTH = "gov.health.birth_registered"
APPROVAL = {"approver": "bench", "approved_at": "2026-01-01T00:00:00Z"}
MASKED = {
    "certificate_no": "mask",
    "baby_name": "mask",
    "mother_id": "pseudonym",
    "birth_date": "generalize.year_month",
    "guardian_phone": "mask",
    "birth_region": "generalize.district",
}
CLEAR = dict.fromkeys(MASKED, "clear")
SUBSCRIPTIONS = 3
# A steady-state window: from the moment 10 % of the work is done to the moment 90 % is, so
# client start-up, the first fetches and the tail's last partial batches stay outside it.
STEADY = (0.1, 0.9)
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds of a process so far (all its threads), from /proc."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def peak_rss_mb(pid: int | None) -> float:
    if pid is None:
        return 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def sample_messages(n: int, seed: int = 1) -> list[Prepared]:
    """``n`` births encoded exactly as the SDK sends them (Avro single-object value, the
    CloudEvents headers, the subject as key), plus a traceparent header as a
    traced publisher adds."""
    encoder = EventEncoder("health", default_catalogue())
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        prepared = encoder.prepare(BIRTH, birth(rng, dt.date.today()))
        trace = f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01".encode()
        out.append(
            Prepared(
                prepared.envelope,
                prepared.topic,
                prepared.key,
                prepared.value,
                [*prepared.headers, ("traceparent", trace)],
            )
        )
    return out


def produce(producer: Producer, topic: str, value: bytes, key: bytes | None, headers: Any) -> None:
    """Produce, waiting for room in the client's queue when it is full."""
    while True:
        try:
            producer.produce(topic, value, key, headers=headers)
            return
        except BufferError:
            producer.poll(0.01)


def policy_file(uid: str, fields: dict[str, str], count: int) -> tuple[Path, list[str]]:
    subscribers = [f"b{i}_{uid}" for i in range(count)]
    subs = [
        {
            "id": f"bench-{s}",
            "subscriber": s,
            "event_types": [BIRTH],
            "fields": fields,
            "legal_basis": "benchmark",
            "purpose": "measure the bus",
            "approval": APPROVAL,
        }
        for s in subscribers
    ]
    path = Path(tempfile.mkdtemp()) / "policy.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "subscriptions": subs}))
    return path, subscribers


def topic_ends(bootstrap: str, topics: Iterable[str]) -> dict[tuple[str, int], int]:
    probe = Consumer({"bootstrap.servers": bootstrap, "group.id": f"ends-{uuid.uuid4().hex[:8]}"})
    try:
        return {
            (t, p): probe.get_watermark_offsets(TopicPartition(t, p), timeout=10)[1]
            for t in topics
            for p in probe.list_topics(t, timeout=10).topics[t].partitions
        }
    finally:
        probe.close()


def group_lag(bootstrap: str, app_id: str, topics: Iterable[str]) -> int:
    """Records of ``topics`` the worker group has not committed yet: the topics' ends against
    its progress markers (the worker keeps no consumer-group offsets)."""
    progress = read_progress(bootstrap, app_id)
    return sum(
        max(end - int(str(progress.get(tp, {}).get("next_offset", 0))), 0)
        for tp, end in topic_ends(bootstrap, topics).items()
    )


def start_at_end(bootstrap: str, app_id: str, topics: Iterable[str]) -> None:
    """Start a new worker group at the topics' current ends: write its progress markers
    there, as if it had processed everything before (with empty audit chains)."""
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    for tp, end in topic_ends(bootstrap, topics).items():
        marker = progress_output(app_id, tp, end, {"audit_seq": 0, "audit_head": GENESIS})
        producer.produce(marker.topic, marker.value, marker.key)
    producer.flush(30)


@dataclass
class BusWorker:
    process: WorkerProcess
    subscribers: list[str]
    policy_topic: str
    starts: dict[str, list[TopicPartition]]

    @property
    def pid(self) -> int | None:
        return self.process.process.pid()


@contextmanager
def bus_worker(
    conn: ConnectionSettings,
    fields: dict[str, str],
    label: str,
    subscriptions: int = SUBSCRIPTIONS,
    lag_timeout_s: float = 900.0,
) -> Iterator[BusWorker]:
    """A worker with its own app id and subscribers, started at the event topics' ends and
    yielded once it runs with its consumer group's lag on every event topic at 0."""
    uid = uuid.uuid4().hex[:8]
    policy, subscribers = policy_file(uid, fields, subscriptions)
    app_id = f"bench-{label}-{uid}"
    policy_topic = f"govbus.policy.bench-{uid}"
    worker = WorkerProcess(
        load(LocalRuntimeSettings).state_dir,
        app_id,
        bootstrap=conn.bootstrap,
        env={
            "GOVBUS_APP_ID": app_id,
            "GOVBUS_WORKER_ID": f"bench-{uid}",
            "GOVBUS_POLICY_FILE": str(policy),
            "GOVBUS_POLICY_TOPIC": policy_topic,
            "GOVBUS_DATA_DIR": str(Path(tempfile.mkdtemp())),
        },
    )
    topics = default_catalogue().event_topics()
    # The group starts at the event topics' ends: on a long-lived runtime a new group would
    # first work through all their history, which is start-up, not what is measured.
    start_at_end(conn.bootstrap, app_id, topics)
    worker.start(timeout_s=180)
    try:
        deadline = time.monotonic() + lag_timeout_s
        while group_lag(conn.bootstrap, app_id, topics) > 0:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{app_id} still lags after {lag_timeout_s:.0f}s")
            time.sleep(1)
        probe = Consumer({"bootstrap.servers": conn.bootstrap, "group.id": f"probe-{uid}"})
        try:
            starts = {s: end_positions(probe, delivery_topic(s)) for s in subscribers}
        finally:
            probe.close()
        yield BusWorker(worker, subscribers, policy_topic, starts)
    finally:
        worker.stop()


def end_positions(consumer: Consumer, topic: str) -> list[TopicPartition]:
    meta = consumer.list_topics(topic, timeout=10).topics[topic]
    return [
        TopicPartition(
            topic, p, consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
        )
        for p in meta.partitions
    ]


def reader_at(bootstrap: str, positions: list[TopicPartition]) -> Consumer:
    reader = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"r-{uuid.uuid4().hex[:8]}",
            "isolation.level": "read_committed",
        }
    )
    reader.assign(positions)
    return reader


@dataclass
class Progress:
    """Arrivals over time, with a process's CPU seconds at each sample."""

    samples: list[tuple[float, int, float]] = field(default_factory=list)  # (t, done, cpu)

    def steady(self, total: int) -> tuple[int, float, float]:
        """(events, seconds, cpu seconds) between STEADY[0] and STEADY[1] of ``total``."""
        lo, hi = (int(total * f) for f in STEADY)
        first = next(s for s in self.samples if s[1] >= lo)
        last = next(s for s in self.samples if s[1] >= hi)
        return last[1] - first[1], last[0] - first[0], last[2] - first[2]


def count_arrivals(
    bootstrap: str,
    starts: dict[str, list[TopicPartition]],
    total: int,
    pid: int | None,
    timeout_s: float = 900.0,
) -> Progress:
    """Until every topic of ``starts`` holds ``total`` new committed records: samples of the
    smallest count so far, and ``pid``'s CPU."""
    readers = {topic: reader_at(bootstrap, parts) for topic, parts in starts.items()}
    counts = dict.fromkeys(readers, 0)
    progress = Progress()
    deadline = time.monotonic() + timeout_s
    try:
        while min(counts.values()) < total and time.monotonic() < deadline:
            for topic, reader in readers.items():
                counts[topic] += sum(1 for m in reader.consume(2000, 0.05) if m.error() is None)
            progress.samples.append((time.monotonic(), min(counts.values()), cpu_seconds(pid)))
    finally:
        for reader in readers.values():
            reader.close()
    if min(counts.values()) < total:
        raise TimeoutError(f"only {min(counts.values())} of {total} arrived on every topic")
    return progress


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(p * len(ordered)), len(ordered) - 1)] if ordered else -1.0


def stamp() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")

"""One run, one broker, side by side: raw confluent-kafka vs the bus end to end, masking on
vs off, Redis dedupe pipelined vs not, and the worker's peak memory.

    .venv/bin/python -m bench [--events 5000] [--only gateway,latency]

Writes bench/results/<timestamp>.json and prints the ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import redis
import yaml
from confluent_kafka import Consumer, Producer, TopicPartition

from govbus.adapters.publisher import Publisher
from govbus.config import ConnectionSettings, GatewaySettings, LocalRuntimeSettings, load
from govbus.demo.sample_data import birth
from govbus.devenv.process import free_port
from govbus.devenv.runtime import Runtime
from govbus.devenv.worker import WorkerProcess
from govbus.gateway.keystore import KeyStore
from govbus.kafka_admin import ensure_topics
from govbus.schemas.envelope import Envelope
from govbus.schemas.topics import delivery_topic
from govbus.streams.dedupe import RedisDedupe, UnpipelinedRedisDedupe

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
STALL_S = 30.0
PARTS = ("raw", "bus", "dedupe", "gateway", "latency")


def raw_kafka(bootstrap: str, n: int, payload: bytes) -> dict[str, float]:
    """The ceiling: produce n messages (idempotent, acks=all) and consume them back."""
    topic = f"bench.raw.{uuid.uuid4().hex[:8]}"
    ensure_topics(bootstrap, {topic: {}}, partitions=3, replication=1)
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            "compression.type": "lz4",
        }
    )
    started = time.perf_counter()
    for i in range(n):
        while True:
            try:
                producer.produce(topic, payload, str(i).encode())
                break
            except BufferError:
                producer.poll(0.05)
    producer.flush(60)
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-{uuid.uuid4()}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.assign([TopicPartition(topic, p, 0) for p in range(3)])
    got = 0
    while got < n:
        got += sum(1 for m in consumer.consume(1000, 1.0) if m.error() is None)
    consumer.close()
    seconds = time.perf_counter() - started
    return {"events": n, "seconds": seconds, "events_per_s": n / seconds}


def policy_file(uid: str, fields: dict[str, str], count: int = 3) -> tuple[Path, list[str]]:
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


def end_positions(consumer: Consumer, topic: str) -> list[TopicPartition]:
    meta = consumer.list_topics(topic, timeout=10).topics[topic]
    return [
        TopicPartition(
            topic, p, consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
        )
        for p in meta.partitions
    ]


def topic_end(consumer: Consumer, topic: str) -> int:
    meta = consumer.list_topics(topic, timeout=10).topics[topic]
    return sum(
        consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
        for p in meta.partitions
    )


@contextmanager
def bus_worker(
    conn: ConnectionSettings, fields: dict[str, str], label: str, subscriptions: int = 3
) -> Iterator[tuple[WorkerProcess, list[str], dict[str, list[TopicPartition]]]]:
    """A worker with its own app id and subscribers, once it has worked through the
    existing backlog; yields it with the subscribers and their topics' end positions."""
    uid = uuid.uuid4().hex[:8]
    policy, subscribers = policy_file(uid, fields, subscriptions)
    worker = WorkerProcess(
        load(LocalRuntimeSettings).state_dir,
        f"bench-{label}-{uid}",
        bootstrap=conn.bootstrap,
        env={
            "GOVBUS_APP_ID": f"bench-{label}-{uid}",
            "GOVBUS_WORKER_ID": f"bench-{uid}",
            "GOVBUS_POLICY_FILE": str(policy),
            "GOVBUS_POLICY_TOPIC": f"govbus.policy.bench-{uid}",
            "GOVBUS_DATA_DIR": str(Path(tempfile.mkdtemp())),
        },
    )
    worker.start(timeout_s=120)
    probe = Consumer({"bootstrap.servers": conn.bootstrap, "group.id": f"probe-{uid}"})
    try:
        baseline = dict.fromkeys(subscribers, -1)
        while True:
            now = {s: topic_end(probe, delivery_topic(s)) for s in subscribers}
            if now == baseline:
                break
            baseline = now
            time.sleep(3)
        starts = {s: end_positions(probe, delivery_topic(s)) for s in subscribers}
        yield worker, subscribers, starts
    finally:
        probe.close()
        worker.stop()


def reader_at(conn: ConnectionSettings, positions: list[TopicPartition]) -> Consumer:
    reader = Consumer(
        {
            "bootstrap.servers": conn.bootstrap,
            "group.id": f"r-{uuid.uuid4().hex[:8]}",
            "isolation.level": "read_committed",
        }
    )
    reader.assign(positions)
    return reader


def bus_end_to_end(
    conn: ConnectionSettings, n: int, fields: dict[str, str], label: str
) -> dict[str, Any]:
    """Publish n typed events with 3 matching subscriptions; time until every delivery
    topic holds n committed deliveries."""
    with bus_worker(conn, fields, label) as (worker, subscribers, starts):
        rng = random.Random(uuid.uuid4().hex)  # fresh facts: natural keys must not repeat
        events = [birth(rng, dt.date.today()) for _ in range(n)]
        started = time.perf_counter()
        with Publisher("health") as pub:
            futures = [pub.publish(BIRTH, e) for e in events]
            for future in futures:
                future.result(timeout=120)
        published = time.perf_counter() - started
        counts = dict.fromkeys(subscribers, 0)
        readers = {s: reader_at(conn, starts[s]) for s in subscribers}
        deadline = time.perf_counter() + 600
        while min(counts.values()) < n and time.perf_counter() < deadline:
            for s, reader in readers.items():
                counts[s] += sum(1 for m in reader.consume(1000, 0.2) if m.error() is None)
        seconds = time.perf_counter() - started
        for reader in readers.values():
            reader.close()
        return {
            "events": n,
            "subscribers": 3,
            "seconds": seconds,
            "publish_seconds": published,
            "events_per_s": n / seconds,
            "deliveries": sum(counts.values()),
            "worker_peak_rss_mb": peak_rss_mb(worker.process.pid()),
        }


def gateway_pull(conn: ConnectionSettings, n: int) -> dict[str, Any]:
    """n deliveries for one department, read (a) with a raw confluent-kafka consumer and
    (b) through the gateway's HTTP pull (pages of 500, its own process); plus the gateway's
    peak RSS."""
    with bus_worker(conn, MASKED, "pull", subscriptions=1) as (_, subs, starts):
        department = subs[0]
        rng = random.Random(uuid.uuid4().hex)
        with Publisher("health") as pub:
            for future in [pub.publish(BIRTH, birth(rng, dt.date.today())) for _ in range(n)]:
                future.result(timeout=120)
        reader = reader_at(conn, starts[department])
        got, deadline = 0, time.perf_counter() + 300
        while got < n and time.perf_counter() < deadline:  # wait until all are delivered
            got += sum(1 for m in reader.consume(1000, 0.2) if m.error() is None)
        reader.close()
        reader = reader_at(conn, starts[department])
        started, read = time.perf_counter(), 0
        while read < n:
            read += sum(1 for m in reader.consume(1000, 0.2) if m.error() is None)
        raw_seconds = time.perf_counter() - started
        reader.close()
        port = free_port()
        settings = GatewaySettings()
        key = KeyStore(conn.pg, settings.api_key_pepper.get_secret_value().encode()).issue(
            department, ["subscriber"]
        )
        gateway = subprocess.Popen(
            [str(Path(sys.executable).parent / "govbus"), "gateway", "run"],
            env={
                **os.environ,
                "GOVBUS_GATEWAY_PORT": str(port),
                "GOVBUS_RATE_LIMIT_PER_MINUTE": "100000",
                # One client address pulls as fast as it can: measure the gateway, not
                # the per-address bucket that refuses floods before authentication.
                "GOVBUS_CLIENT_RATE_PER_SECOND": "100000",
                "GOVBUS_CLIENT_BURST": "100000",
            },
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            while True:
                try:
                    if httpx.get(f"{url}/healthz", timeout=1).is_success:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            headers = {"X-API-Key": key}
            params: dict[str, Any] = {"limit": 500}
            started, pulled = time.perf_counter(), 0
            with httpx.Client(base_url=url, timeout=60) as http:
                while pulled < n:
                    body = http.get("/v1/events", params=params, headers=headers).json()
                    pulled += len(body["events"])
                    params = {"limit": 500, "cursor": body["cursor"]}
            gateway_seconds = time.perf_counter() - started
            fanout = sse_fanout_pair(url, headers, min(n, 500))
            rss = peak_rss_mb(gateway.pid)
        finally:
            gateway.terminate()
            gateway.wait(timeout=30)
    return {
        "deliveries": n,
        **fanout,
        "raw_consumer_per_s": n / raw_seconds,
        "gateway_pull_per_s": pulled / gateway_seconds,
        "gateway_peak_rss_mb": rss,
    }


def sse_fanout(url: str, headers: dict[str, str], n: int, clients: int) -> float:
    """Seconds until each of ``clients`` concurrent SSE clients has received n events."""

    async def one(client: httpx.AsyncClient) -> None:
        got = 0
        async with client.stream("GET", url, headers=headers) as response:
            async for line in response.aiter_lines():
                if line.startswith("data:"):
                    got += 1
                    if got >= n:
                        return

    async def everyone() -> None:
        limits = httpx.Limits(max_connections=clients + 10)
        async with httpx.AsyncClient(timeout=300, limits=limits) as client:
            await asyncio.gather(*(one(client) for _ in range(clients)))

    started = time.perf_counter()
    asyncio.run(everyone())
    return time.perf_counter() - started


def sse_fanout_pair(
    gateway: str, headers: dict[str, str], n: int, clients: int = 100
) -> dict[str, Any]:
    """The gateway's SSE stream to 100 clients of one department (from the start of its
    deliveries) against a bare Starlette endpoint streaming the same number of events of
    the same size from memory."""
    template = httpx.get(f"{gateway}/v1/events", params={"limit": 1}, headers=headers).json()
    gw_seconds = sse_fanout(f"{gateway}/v1/events/stream", headers, n, clients)
    port = free_port()
    bare = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.bare_sse:app",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env={
            **os.environ,
            "BENCH_SSE_EVENTS": str(n),
            "BENCH_SSE_TEMPLATE": json.dumps(template["events"][0], ensure_ascii=False),
        },
        cwd=Path(__file__).resolve().parent.parent,
    )
    try:
        deadline = time.perf_counter() + 30
        while time.perf_counter() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{port}/stream", timeout=5)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        bare_seconds = sse_fanout(f"http://127.0.0.1:{port}/stream", {}, n, clients)
    finally:
        bare.terminate()
        bare.wait(timeout=30)
    return {
        "sse_clients": clients,
        "sse_events_per_client": n,
        "sse_gateway_events_per_s": clients * n / gw_seconds,
        "sse_bare_starlette_events_per_s": clients * n / bare_seconds,
    }


def latency(conn: ConnectionSettings, rate: float, seconds: float) -> dict[str, Any]:
    """Publish at a fixed rate to one masked subscription; latency = the delivery's arrival
    at a subscriber minus the event's ce_time (one clock: same machine)."""
    with bus_worker(conn, MASKED, f"lat{int(rate)}", subscriptions=1) as (_, subs, starts):
        reader = reader_at(conn, starts[subs[0]])
        rng = random.Random(uuid.uuid4().hex)
        n = int(rate * seconds)
        samples: list[float] = []
        with Publisher("health") as pub:
            began = time.perf_counter()
            for i in range(n):
                pub.publish(BIRTH, birth(rng, dt.date.today()))
                pause = began + (i + 1) / rate - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
                samples += arrivals(reader.consume(500, 0))
            pub.flush(60)
        # Stop when nothing more arrives for a while: a missing event is reported, not
        # waited for (govbus reconcile on the worker's group says why it is missing).
        last_arrival = time.perf_counter()
        while len(samples) < n and time.perf_counter() - last_arrival < STALL_S:
            got = arrivals(reader.consume(500, 0.2))
            if got:
                samples += got
                last_arrival = time.perf_counter()
        reader.close()
    samples.sort()

    def pct(p: float) -> float:
        return samples[min(int(p * len(samples)), len(samples) - 1)] * 1000 if samples else -1.0

    return {
        "rate": rate,
        "events": n,
        "received": len(samples),
        "p50_ms": pct(0.5),
        "p99_ms": pct(0.99),
    }


def arrivals(messages: list[Any]) -> list[float]:
    now = time.time()
    return [
        max(now - Envelope.from_headers(m.headers()).time.timestamp(), 0.0)
        for m in messages
        if m.error() is None
    ]


def plot(results: dict[str, Any], out: Path) -> None:
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    names = ["raw Kafka", "bus, masked", "bus, clear"]
    rates = [results[k]["events_per_s"] for k in ("raw", "bus_masked", "bus_clear")]
    left.bar(names, rates, color=["#888", "#3367d6", "#7baaf7"])
    left.set_ylabel("events/s (3 subscriptions for the bus)")
    left.set_title(f"throughput, {results['events']} events, one run")
    for i, r in enumerate(rates):
        left.text(i, r, f"{r:,.0f}", ha="center", va="bottom")
    labels = [f"{int(lat['rate'])}/s" for lat in results["latency"]]
    x = range(len(labels))
    right.bar([i - 0.2 for i in x], [lat["p50_ms"] for lat in results["latency"]], 0.4, label="p50")
    right.bar([i + 0.2 for i in x], [lat["p99_ms"] for lat in results["latency"]], 0.4, label="p99")
    right.set_xticks(list(x), labels)
    right.set_yscale("log")
    right.set_ylabel("publish -> subscriber, ms (log)")
    right.set_title("latency at a fixed publish rate")
    right.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def peak_rss_mb(pid: int | None) -> float:
    if pid is None:
        return 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def dedupe(url: str, n: int) -> dict[str, float]:
    client = redis.Redis.from_url(url)
    out = {}
    for label, store in (
        ("pipelined", RedisDedupe(client, f"bench-{uuid.uuid4()}", 600)),
        ("unpipelined", UnpipelinedRedisDedupe(client, f"bench-{uuid.uuid4()}", 600)),
    ):
        keys = [f"id:health:{uuid.uuid4()}" for _ in range(n)]
        owners = [f"t/0/{i}" for i in range(n)]
        started = time.perf_counter()
        for i in range(0, n, 200):  # batches as the worker claims them
            store.claim(keys[i : i + 200], owners[i : i + 200])
        out[f"{label}_claims_per_s"] = n / (time.perf_counter() - started)
    return out


PARTS_PLOTTED = {"raw", "bus_masked", "bus_clear", "latency"}


def ratios(results: dict[str, Any]) -> dict[str, float]:
    """Each ratio whose two sides were measured in this run."""
    pairs = {
        "bus_over_raw": (("bus_masked", "events_per_s"), ("raw", "events_per_s")),
        "masking_on_over_off": (("bus_masked", "events_per_s"), ("bus_clear", "events_per_s")),
        "dedupe_pipelined_over_unpipelined": (
            ("dedupe", "pipelined_claims_per_s"),
            ("dedupe", "unpipelined_claims_per_s"),
        ),
        "gateway_pull_over_raw_consumer": (
            ("gateway", "gateway_pull_per_s"),
            ("gateway", "raw_consumer_per_s"),
        ),
        "sse_fanout_gateway_over_bare_starlette": (
            ("gateway", "sse_gateway_events_per_s"),
            ("gateway", "sse_bare_starlette_events_per_s"),
        ),
    }
    return {
        name: results[top[0]][top[1]] / results[bottom[0]][bottom[1]]
        for name, (top, bottom) in pairs.items()
        if top[0] in results and bottom[0] in results
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--latency-seconds", type=float, default=10.0)
    parser.add_argument("--rates", default="100,1000", help="fixed publish rates for latency")
    parser.add_argument(
        "--only",
        default=",".join(PARTS),
        help=f"comma-separated parts to run (default: all of {', '.join(PARTS)})",
    )
    args = parser.parse_args()
    parts = set(args.only.split(","))
    if parts - set(PARTS):
        parser.error(f"unknown parts: {', '.join(sorted(parts - set(PARTS)))}")
    Runtime().up()
    conn = load(ConnectionSettings)
    sample = birth(random.Random(1), dt.date.today())
    payload = json.dumps(sample, default=str).encode()
    results: dict[str, Any] = {
        "when": dt.datetime.now(dt.UTC).isoformat(),
        "events": args.events,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
    }
    if "raw" in parts:
        print(f"raw confluent-kafka, {args.events} events ...")
        results["raw"] = raw_kafka(conn.bootstrap, args.events, payload)
    if "bus" in parts:
        print("bus end to end, masking on ...")
        results["bus_masked"] = bus_end_to_end(conn, args.events, MASKED, "masked")
        print("bus end to end, masking off ...")
        results["bus_clear"] = bus_end_to_end(conn, args.events, CLEAR, "clear")
    if "dedupe" in parts:
        print("dedupe store ...")
        results["dedupe"] = dedupe(conn.redis, 20_000)
    if "gateway" in parts:
        print("gateway pull vs raw consumer, SSE fan-out vs bare Starlette ...")
        results["gateway"] = gateway_pull(conn, args.events)
    if "latency" in parts:
        results["latency"] = []
        for rate in (float(r) for r in args.rates.split(",")):
            print(f"latency at {rate:.0f} events/s for {args.latency_seconds:.0f}s ...")
            results["latency"].append(latency(conn, rate, args.latency_seconds))
    results["ratios"] = ratios(results)
    out = Path(__file__).parent / "results" / f"{dt.datetime.now():%Y%m%d-%H%M%S}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    written = [out]
    if results.keys() >= PARTS_PLOTTED:
        plot(results, out.with_suffix(".png"))
        written.append(out.with_suffix(".png"))
    print(json.dumps({k: v for k, v in results.items() if k not in ("when", "machine")}, indent=2))
    print("wrote " + " and ".join(str(p) for p in written))


if __name__ == "__main__":
    main()

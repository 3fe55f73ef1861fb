"""Publish -> subscriber latency as a department sees it: a caught-up worker with 3 masked
subscriptions, the gateway in its own process, one department reading its SSE stream in
another; births published through the SDK at a fixed rate. The same department's delivery
topic read straight from Kafka gives the worker's part of it; the worker's CPU per event at
that rate is measured over the same run."""

from __future__ import annotations

import datetime as dt
import json
import os
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

from bench.common import BIRTH, MASKED, bus_worker, cpu_seconds, percentile
from govbus.adapters.publisher import Publisher
from govbus.config import ConnectionSettings, GatewaySettings, load
from govbus.gateway import cursor as cursors
from govbus.gateway.keystore import KeyStore
from govbus.schemas.topics import delivery_topic
from govbus_devtools.demo.sample_data import birth
from govbus_devtools.devenv.process import free_port

WARM_UP = 0.05  # the first 5 % of events (the stream's first reads) are left out


@contextmanager
def gateway(policy_topic: str) -> Iterator[str]:
    """`govbus gateway run` in its own process; yields its URL once it answers."""
    port = free_port()
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "govbus"), "gateway", "run"],
        env={
            **os.environ,
            "GOVBUS_GATEWAY_PORT": str(port),
            "GOVBUS_RATE_LIMIT_PER_MINUTE": "100000",
            # One client address reads as fast as it can: measure the gateway, not the
            # per-address bucket that refuses floods before authentication.
            "GOVBUS_CLIENT_RATE_PER_SECOND": "100000",
            "GOVBUS_CLIENT_BURST": "100000",
            "GOVBUS_POLICY_TOPIC": policy_topic,
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).is_success:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("the gateway did not answer within 60 s")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def latency(conn: ConnectionSettings, rate: float, seconds: float) -> dict[str, Any]:
    n = int(rate * seconds)
    with bus_worker(conn, MASKED, f"lat{int(rate)}") as worker, gateway(worker.policy_topic) as url:
        settings = load(GatewaySettings)
        keys = KeyStore(conn.pg, settings.api_key_pepper.get_secret_value().encode())
        keys.init()
        department = worker.subscribers[0]
        key = keys.issue(department, ["subscriber"])
        # From the topic's end once the worker caught up: what the history held is not ours.
        positions = {tp.partition: tp.offset for tp in worker.starts[department]}
        tail = cursors.encode(positions)
        out = Path(tempfile.mkdtemp()) / "latencies.json"
        reader = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.sse_reader",
                url,
                key,
                tail,
                str(n),
                str(out),
                conn.bootstrap,
                delivery_topic(department),
                json.dumps(positions),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        if reader.stdout is None or reader.stdout.readline().strip() != "connected":
            raise RuntimeError("the SSE reader could not connect")
        rng = random.Random(uuid.uuid4().hex)
        events = [birth(rng, dt.date.today()) for _ in range(n)]
        cpu_before = cpu_seconds(worker.pid)
        with Publisher("health") as pub:
            began = time.perf_counter()
            for i, event in enumerate(events):
                pub.publish(BIRTH, event)
                pause = began + (i + 1) / rate - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
            pub.flush(60)
        reader.wait(timeout=seconds + 600)
        reader.stdout.close()
        cpu = cpu_seconds(worker.pid) - cpu_before
    both = json.loads(out.read_text())
    sse, kafka = (both[k][int(len(both[k]) * WARM_UP) :] for k in ("sse", "kafka"))
    return {
        "rate": rate,
        "events": n,
        "received": len(both["sse"]),
        "p50_ms": percentile(sse, 0.5),
        "p99_ms": percentile(sse, 0.99),
        "max_ms": max(sse, default=-1.0),
        "kafka_received": len(both["kafka"]),
        "kafka_p50_ms": percentile(kafka, 0.5),
        "kafka_p99_ms": percentile(kafka, 0.99),
        "cpu_us_per_event": cpu / n * 1e6,
    }

"""Parts of earlier benchmarks, kept for comparison (`--only gateway,dedupe`): the gateway's
HTTP pull against a raw consumer, SSE fan-out to 100 clients against a bare Starlette
endpoint, and pipelined against unpipelined Redis dedupe claims."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import random
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import redis

from bench.common import BIRTH, MASKED, bus_worker, peak_rss_mb, reader_at
from govbus.adapters.publisher import Publisher
from govbus.config import ConnectionSettings, GatewaySettings
from govbus.gateway.keystore import KeyStore
from govbus.streams.dedupe import RedisDedupe, UnpipelinedRedisDedupe
from govbus_devtools.demo.sample_data import birth
from govbus_devtools.devenv.process import free_port


def gateway_pull(conn: ConnectionSettings, n: int) -> dict[str, Any]:
    """n deliveries for one department, read (a) with a raw confluent-kafka consumer and
    (b) through the gateway's HTTP pull (pages of 500, its own process); plus the gateway's
    peak RSS."""
    with bus_worker(conn, MASKED, "pull", subscriptions=1) as worker:
        department = worker.subscribers[0]
        start = worker.starts[department]
        rng = random.Random(uuid.uuid4().hex)
        with Publisher("health") as pub:
            for future in [pub.publish(BIRTH, birth(rng, dt.date.today())) for _ in range(n)]:
                future.result(timeout=120)
        reader = reader_at(conn.bootstrap, start)
        got, deadline = 0, time.perf_counter() + 300
        while got < n and time.perf_counter() < deadline:  # wait until all are delivered
            got += sum(1 for m in reader.consume(1000, 0.2) if m.error() is None)
        reader.close()
        reader = reader_at(conn.bootstrap, start)
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
                # One client address reads as fast as it can: measure the gateway, not the
                # per-address bucket that refuses floods before authentication.
                "GOVBUS_CLIENT_RATE_PER_SECOND": "100000",
                "GOVBUS_CLIENT_BURST": "100000",
                "GOVBUS_POLICY_TOPIC": worker.policy_topic,
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

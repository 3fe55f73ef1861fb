"""The bus end to end in steady state: a worker with 3 masked subscriptions, started and
caught up (its group's lag 0) before anything is measured; then n births published through
the SDK as fast as it goes, and the arrivals on the 3 delivery topics (read_committed)
timed between 10 % and 90 % of n, with the worker's CPU over the same span. Before that,
the worker's CPU while idle (caught up, nothing arriving), as a share of one core."""

from __future__ import annotations

import datetime as dt
import random
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.common import BIRTH, bus_worker, count_arrivals, cpu_seconds, peak_rss_mb
from govbus.adapters.publisher import Publisher
from govbus.config import ConnectionSettings
from govbus.schemas.topics import delivery_topic
from govbus_devtools.demo.sample_data import birth

IDLE_S = 5.0


def bus_steady(
    conn: ConnectionSettings, n: int, fields: dict[str, str], label: str
) -> dict[str, Any]:
    with bus_worker(conn, fields, label) as worker:
        idle_from = cpu_seconds(worker.pid)
        time.sleep(IDLE_S)
        idle = (cpu_seconds(worker.pid) - idle_from) / IDLE_S
        rng = random.Random(uuid.uuid4().hex)  # fresh facts: natural keys must not repeat
        events = [birth(rng, dt.date.today()) for _ in range(n)]
        starts = {delivery_topic(s): worker.starts[s] for s in worker.subscribers}
        with Publisher("health") as pub, ThreadPoolExecutor(1) as pool:
            # Published from another thread while the arrivals are counted from the start.
            published = pool.submit(lambda: [pub.publish(BIRTH, e) for e in events])
            progress = count_arrivals(conn.bootstrap, starts, n, worker.pid)
            for future in published.result():
                future.result(timeout=60)
        events_done, seconds, cpu = progress.steady(n)
        return {
            "events": n,
            "subscriptions": len(worker.subscribers),
            "events_per_s": events_done / seconds,
            "cpu_us_per_event": cpu / events_done * 1e6,
            "idle_cpu_share": idle,
            "worker_peak_rss_mb": peak_rss_mb(worker.pid),
        }

"""A department reading its deliveries through the gateway's SSE stream, in its own process
(so the publisher's work does not delay its reads): the latency of each event is its
arrival here minus its CloudEvents ``time`` (set at publish; one clock, one machine). Beside
it, a thread reads the same delivery topic straight from Kafka (read_committed), so the
worker's part (publish -> committed delivery) and the gateway's show apart.

    python -m bench.sse_reader URL API_KEY CURSOR N OUT.json BOOTSTRAP TOPIC POSITIONS
    (started by the bench; POSITIONS: JSON {partition: offset}, where CURSOR points too)

Reads from CURSOR (the department's position when the measurement starts: the tail), as a
department resumes from its last cursor. Prints "connected" once the stream is open; each
reader stops after N events, or 30 s without one.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
from confluent_kafka import Consumer, TopicPartition

from govbus.schemas.envelope import header_dict, parse_time

IDLE_S = 30.0


def sse(url: str, key: str, cursor: str, n: int, latencies: list[float]) -> None:
    try:
        with httpx.stream(
            "GET",
            f"{url}/v1/events/stream",
            params={"cursor": cursor},
            headers={"X-API-Key": key},
            timeout=httpx.Timeout(10.0, read=IDLE_S),
        ) as response:
            response.raise_for_status()
            print("connected", flush=True)
            for line in response.iter_lines():
                if line.startswith("data:"):
                    arrived = time.time()
                    sent = parse_time(json.loads(line[5:])["time"]).timestamp()
                    latencies.append((arrived - sent) * 1000)
                    if len(latencies) >= n:
                        return
    except httpx.ReadTimeout:
        pass  # nothing more came: what is missing is reported, not waited for


def kafka(bootstrap: str, topic: str, positions: dict[str, int], n: int, out: list[float]) -> None:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"lat-{uuid.uuid4().hex[:8]}",
            "isolation.level": "read_committed",
        }
    )
    consumer.assign([TopicPartition(topic, int(p), o) for p, o in positions.items()])
    last = time.monotonic()
    try:
        while len(out) < n and time.monotonic() - last < IDLE_S:
            for msg in consumer.consume(100, 0.05):
                if msg.error() is None:
                    sent = parse_time(header_dict(msg.headers())["ce_time"]).timestamp()
                    out.append((time.time() - sent) * 1000)
                    last = time.monotonic()
    finally:
        consumer.close()


def main(argv: list[str]) -> None:
    url, key, cursor, n, out, bootstrap, topic, positions = argv
    through_kafka: list[float] = []
    tail = threading.Thread(
        target=kafka, args=(bootstrap, topic, json.loads(positions), int(n), through_kafka)
    )
    tail.start()
    through_sse: list[float] = []
    sse(url, key, cursor, int(n), through_sse)
    tail.join()
    Path(out).write_text(json.dumps({"sse": through_sse, "kafka": through_kafka}))


if __name__ == "__main__":
    main(sys.argv[1:])

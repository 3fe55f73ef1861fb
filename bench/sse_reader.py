"""A department reading its deliveries through the gateway's SSE stream, in its own process
(so the publisher's work does not delay its reads): the latency of each event is its
arrival here minus its CloudEvents ``time`` (set at publish; one clock, one machine).

    python -m bench.sse_reader URL API_KEY CURSOR N OUT.json   (started by the bench)

Reads from CURSOR (the department's position when the measurement starts: the tail), as a
department resumes from its last cursor. Prints "connected" once the stream is open; stops
after N events, or 30 s without one.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import httpx

from govbus.schemas.envelope import parse_time

IDLE_S = 30.0


def main(url: str, key: str, cursor: str, n: int, out: Path) -> None:
    latencies: list[float] = []
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
                        break
    except httpx.ReadTimeout:
        pass  # nothing more came: what is missing is reported, not waited for
    out.write_text(json.dumps(latencies))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), Path(sys.argv[5]))

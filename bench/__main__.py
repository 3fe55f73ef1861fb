"""The bus against its ceiling and its floor, in steady state, side by side in one run:

- raw: confluent-kafka producing and consuming >= 500,000 of the bus's real messages;
- null: a pipeline writing the bus's 7 transactional outputs per input with no logic;
- bus: a caught-up worker with 3 masked subscriptions over >= 20,000 events, and its CPU
  per event;
- latency: publish -> a department reading the gateway's SSE stream, at 100 and 1,000/s.

    .venv/bin/python -m bench [--repeat 3] [--update-doc docs/benchmarks.md]
    .venv/bin/python -m bench --only latency --rates 100

Writes bench/results/<timestamp>.json and .md, prints the table (min / median / max across
the repeated runs, ratios, targets met) and, with --update-doc, puts it in the document.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.bus import bus_steady
from bench.common import CLEAR, MASKED, stamp
from bench.extras import dedupe, gateway_pull
from bench.latency import latency
from bench.null_pipeline import null_pipeline
from bench.raw import raw_ceiling
from bench.summary import markdown, update_doc
from govbus.config import ConnectionSettings, LocalRuntimeSettings, load
from govbus_devtools.devenv.runtime import Runtime

DEFAULT_PARTS = ("raw", "null", "bus", "latency")
EXTRA_PARTS = ("clear", "gateway", "dedupe")
ROOT = Path(__file__).resolve().parent.parent


def one_run(conn: ConnectionSettings, args: argparse.Namespace, parts: set[str]) -> dict[str, Any]:
    run: dict[str, Any] = {"started": stamp()}
    if "raw" in parts:
        print(f"  raw: {args.raw_messages:,} messages ...", flush=True)
        run["raw"] = raw_ceiling(conn.bootstrap, args.raw_messages)
    if "null" in parts:
        print(f"  null pipeline: {args.null_inputs:,} inputs ...", flush=True)
        run["null"] = null_pipeline(conn.bootstrap, args.null_inputs)
    if "bus" in parts:
        print(f"  bus: {args.events:,} events, once the worker has caught up ...", flush=True)
        run["bus"] = bus_steady(conn, args.events, MASKED, "masked")
    if "clear" in parts:
        print(f"  bus, every field in clear: {args.events:,} events ...", flush=True)
        run["bus_clear"] = bus_steady(conn, args.events, CLEAR, "clear")
    if "latency" in parts:
        run["latency"] = []
        for rate in args.rates:
            print(
                f"  latency through SSE at {rate}/s for {args.latency_seconds:.0f} s ...",
                flush=True,
            )
            run["latency"].append(latency(conn, float(rate), args.latency_seconds))
    if "gateway" in parts:
        print("  gateway pull and SSE fan-out ...", flush=True)
        run["gateway"] = gateway_pull(conn, 3000)
    if "dedupe" in parts:
        print("  dedupe store ...", flush=True)
        run["dedupe"] = dedupe(conn.redis, 20_000)
    print(json.dumps({k: v for k, v in run.items() if k != "started"}, indent=1), flush=True)
    return run


def machine() -> str:
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    memory = Path("/proc/meminfo").read_text().split()[1]
    kafka = load(LocalRuntimeSettings).kafka_version
    return (
        f"{os.cpu_count()} cores ({model or platform.processor()}), "
        f"{int(memory) / 1024 / 1024:.0f} GiB, Python {platform.python_version()}, "
        f"Kafka {kafka} (KRaft, one local node), all on loopback"
    )


def git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    return done.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs of every part (default 3)")
    parser.add_argument("--raw-messages", type=int, default=500_000)
    parser.add_argument("--null-inputs", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=20_000, help="events through the bus")
    parser.add_argument("--latency-seconds", type=float, default=10.0)
    parser.add_argument(
        "--rates", type=lambda s: [int(r) for r in s.split(",")], default=[100, 1000]
    )
    parser.add_argument(
        "--only",
        default=",".join(DEFAULT_PARTS),
        help=f"parts to run: {', '.join(DEFAULT_PARTS + EXTRA_PARTS)} "
        f"(default: {', '.join(DEFAULT_PARTS)})",
    )
    parser.add_argument("--update-doc", type=Path, help="put the table into this document")
    args = parser.parse_args()
    parts = set(args.only.split(","))
    if parts - set(DEFAULT_PARTS + EXTRA_PARTS):
        parser.error(
            f"unknown parts: {', '.join(sorted(parts - set(DEFAULT_PARTS + EXTRA_PARTS)))}"
        )
    Runtime().up()
    conn = load(ConnectionSettings)
    header = {
        "command": "python -m bench " + " ".join(sys.argv[1:]),
        "when": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": git("rev-parse", "--short", "HEAD"),
        "dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
        "machine": machine(),
        "load": " ".join(f"{x:.1f}" for x in os.getloadavg()),
    }
    runs = []
    for i in range(args.repeat):
        print(f"run {i + 1} of {args.repeat}", flush=True)
        runs.append(one_run(conn, args, parts))
    section = markdown(runs, args.rates, header)
    out = ROOT / "bench" / "results" / f"{dt.datetime.now():%Y%m%d-%H%M%S}"
    out.parent.mkdir(exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps({"header": header, "runs": runs}, indent=2))
    out.with_suffix(".md").write_text(section)
    print()
    print(section)
    print(f"wrote {out}.json and .md")
    if args.update_doc:
        update_doc(args.update_doc, section)
        print(f"updated {args.update_doc}")


if __name__ == "__main__":
    main()

"""Repeated runs side by side: each measure's min / median / max across runs, the ratios
between the parts, and which targets were met; as a Markdown table that replaces the marked
section of docs/benchmarks.md."""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import median

START = "<!-- bench:results:start -->"
END = "<!-- bench:results:end -->"
CPU_TARGET_US = 250.0
P99_TARGET_MS = 50.0

Run = dict[str, Any]


@dataclass(frozen=True)
class Measure:
    label: str
    get: Callable[[Run], float]
    fmt: str  # format of one value
    target: tuple[Callable[[float, float], bool], float, str] | None = None


def _latency(rate: int, key: str) -> Callable[[Run], float]:
    def get(run: Run) -> float:
        return float(next(x[key] for x in run["latency"] if int(x["rate"]) == rate))

    return get


def _received_share(rate: int) -> Callable[[Run], float]:
    received, sent = _latency(rate, "received"), _latency(rate, "events")
    return lambda run: received(run) / sent(run)


def _ratio(top: str, bottom: str) -> Callable[[Run], float]:
    return lambda run: float(run[top]["events_per_s"] / run[bottom]["events_per_s"])


def measures(rates: list[int]) -> list[Measure]:
    at_most = operator.le
    out = [
        Measure(
            "raw ceiling, produce + consume (events/s)",
            lambda r: r["raw"]["events_per_s"],
            "{:,.0f}",
        ),
        Measure("raw produce only (events/s)", lambda r: r["raw"]["produce_per_s"], "{:,.0f}"),
        Measure("raw consume only (events/s)", lambda r: r["raw"]["consume_per_s"], "{:,.0f}"),
        Measure(
            "null pipeline, 7 outputs per input (inputs/s)",
            lambda r: r["null"]["events_per_s"],
            "{:,.0f}",
        ),
        Measure(
            "null pipeline CPU (µs per input)", lambda r: r["null"]["cpu_us_per_event"], "{:,.0f}"
        ),
        Measure(
            "bus, 3 masked subscriptions (events/s)", lambda r: r["bus"]["events_per_s"], "{:,.0f}"
        ),
        Measure(
            "bus worker CPU, saturated (µs per event)",
            lambda r: r["bus"]["cpu_us_per_event"],
            "{:,.0f}",
            (at_most, CPU_TARGET_US, f"≤ {CPU_TARGET_US:.0f}"),
        ),
        Measure("bus ÷ raw", _ratio("bus", "raw"), "{:.4f}"),
        Measure("bus ÷ null", _ratio("bus", "null"), "{:.3f}"),
        Measure("null ÷ raw", _ratio("null", "raw"), "{:.3f}"),
    ]
    for rate in rates:
        out += [
            Measure(f"SSE latency p50 at {rate}/s (ms)", _latency(rate, "p50_ms"), "{:,.0f}"),
            Measure(
                f"SSE latency p99 at {rate}/s (ms)",
                _latency(rate, "p99_ms"),
                "{:,.0f}",
                (at_most, P99_TARGET_MS, f"≤ {P99_TARGET_MS:.0f}"),
            ),
            Measure(
                f"of which publish -> committed on the delivery topic, p99 at {rate}/s (ms)",
                _latency(rate, "kafka_p99_ms"),
                "{:,.0f}",
            ),
            Measure(
                f"events received through SSE at {rate}/s (of sent)",
                _received_share(rate),
                "{:.4f}",
            ),
            Measure(
                f"bus worker CPU at {rate}/s (µs per event)",
                _latency(rate, "cpu_us_per_event"),
                "{:,.0f}",
            ),
        ]
    out.append(
        Measure(
            "bus worker CPU when idle (% of a core)",
            lambda r: r["bus"]["idle_cpu_share"] * 100,
            "{:.0f}",
        )
    )
    out.append(Measure("worker peak RSS (MB)", lambda r: r["bus"]["worker_peak_rss_mb"], "{:,.0f}"))
    return out


def rows(runs: list[Run], rates: list[int]) -> list[dict[str, str]]:
    """One row per measure that every run has."""
    out = []
    for m in measures(rates):
        try:
            values = [m.get(run) for run in runs]
        except (KeyError, StopIteration, ZeroDivisionError):
            continue
        row = {
            "measure": m.label,
            "min": m.fmt.format(min(values)),
            "median": m.fmt.format(median(values)),
            "max": m.fmt.format(max(values)),
            "target": "",
            "met": "",
        }
        if m.target is not None:
            check, bound, text = m.target
            met = sum(check(v, bound) for v in values)
            row["target"] = text
            row["met"] = f"{'yes' if met == len(values) else 'no'} ({met} of {len(values)} runs)"
        out.append(row)
    return out


def markdown(runs: list[Run], rates: list[int], header: dict[str, Any]) -> str:
    lines = [
        f"Command: `{header['command']}`, {header['when']}, commit `{header['commit']}`"
        f"{' (with local changes)' if header['dirty'] else ''}.",
        "",
        f"Machine: {header['machine']}. Load average when it started: {header['load']}.",
        "",
        f"{len(runs)} runs; each value is one run's, min / median / max across them.",
        "",
        "| measure | min | median | max | target | met |",
        "|---|---:|---:|---:|---|---|",
    ]
    for row in rows(runs, rates):
        lines.append(
            f"| {row['measure']} | {row['min']} | {row['median']} | {row['max']} "
            f"| {row['target']} | {row['met']} |"
        )
    return "\n".join(lines) + "\n"


def update_doc(path: Path, section: str) -> None:
    """Replace what sits between the two markers of ``path`` with ``section``."""
    text = path.read_text()
    if START not in text or END not in text:
        raise SystemExit(f"{path} has no {START} ... {END} section to update")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    path.write_text(f"{head}{START}\n{section}{END}{tail}")

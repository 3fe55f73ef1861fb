"""The benchmark's summary: min / median / max across runs, ratios between parts, targets
met in how many runs, and the marked section of a document replaced (and only it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench.summary import END, START, markdown, rows, update_doc


def run(bus: float, cpu: float, p99: float) -> dict[str, Any]:
    return {
        "raw": {"events_per_s": 100_000.0, "produce_per_s": 120_000.0, "consume_per_s": 500_000.0},
        "null": {"events_per_s": 4_000.0, "cpu_us_per_event": 30.0},
        "bus": {
            "events_per_s": bus,
            "cpu_us_per_event": cpu,
            "idle_cpu_share": 0.1,
            "worker_peak_rss_mb": 150.0,
        },
        "latency": [
            {
                "rate": 100.0,
                "events": 1000,
                "received": 1000,
                "p50_ms": 20.0,
                "p99_ms": p99,
                "cpu_us_per_event": 900.0,
            },
        ],
    }


def by_measure(runs: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    return {r["measure"]: r for r in rows(runs, [100])}


def test_spread_ratios_and_targets_across_runs() -> None:
    table = by_measure([run(400, 1200, 40), run(600, 200, 60), run(500, 240, 45)])
    bus = table["bus, 3 masked subscriptions (events/s)"]
    assert (bus["min"], bus["median"], bus["max"]) == ("400", "500", "600")
    assert table["bus ÷ raw"]["median"] == "0.0050"
    assert table["bus ÷ null"]["max"] == "0.150"
    assert table["null ÷ raw"]["min"] == "0.040"
    assert table["bus worker CPU, saturated (µs per event)"]["met"] == "no (2 of 3 runs)"
    assert table["SSE latency p99 at 100/s (ms)"]["met"] == "no (2 of 3 runs)"
    assert table["SSE latency p99 at 100/s (ms)"]["target"] == "≤ 50"


def test_a_target_met_in_every_run_is_met() -> None:
    table = by_measure([run(500, 200, 10), run(500, 250, 50)])
    assert table["bus worker CPU, saturated (µs per event)"]["met"] == "yes (2 of 2 runs)"


def test_parts_not_run_are_left_out() -> None:
    partial = [{"raw": run(1, 1, 1)["raw"]}]
    assert [r["measure"] for r in rows(partial, [100])] == [
        "raw ceiling, produce + consume (events/s)",
        "raw produce only (events/s)",
        "raw consume only (events/s)",
    ]


def test_only_the_marked_section_is_replaced(tmp_path: Path) -> None:
    doc = tmp_path / "b.md"
    doc.write_text(f"# B\nbefore\n{START}\nold table\n{END}\nafter\n")
    header = {
        "command": "python -m bench",
        "when": "now",
        "commit": "abc",
        "dirty": False,
        "machine": "m",
        "load": "1.0",
    }
    update_doc(doc, markdown([run(500, 200, 10)], [100], header))
    text = doc.read_text()
    assert text.startswith("# B\nbefore\n")
    assert text.endswith(f"{END}\nafter\n")
    assert "old table" not in text
    assert "| bus ÷ raw | 0.0050 |" in text
    plain = tmp_path / "plain.md"
    plain.write_text("# nothing to replace\n")
    with pytest.raises(SystemExit):
        update_doc(plain, "x")

"""The alert rules and the Grafana dashboard (helm/govbus/files/, mounted by compose and
shipped by the chart): the rules pass `promtool check rules`; every dashboard query parses
with promtool too (checked as recording rules); every metric they name is one the bus
exports; the dashboard's structure is what Grafana's provisioning loads. No Grafana
validator runs here: Grafana itself is not obtainable offline, so its JSON is checked by
these structural tests."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import yaml
from opentelemetry.sdk.metrics import Counter, MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from govbus.telemetry import ApprovalMetrics, AuditMetrics, BusMetrics
from tests.deploy.conftest import ROOT

FILES = ROOT / "helm" / "govbus" / "files"
RULES = FILES / "govbus-rules.yaml"
DASHBOARD = FILES / "govbus-dashboard.json"
DATASOURCES = ROOT / "deploy" / "grafana" / "provisioning" / "datasources" / "prometheus.yaml"
# The gateway's HTTP metrics (OTel FastAPI instrumentation, stable conventions).
HTTP_METRICS = {"http_server_request_duration_seconds", "http_server_active_requests"}
LABELS = re.compile(r"\b(?:by|without)\s*\([^)]*\)|\{[^}]*\}")  # label names, not metrics
METRIC = re.compile(r"\b((?:govbus|http_server)_[a-z_]+?)(?:_bucket|_count|_sum)?\b")


def check(promtool: Path, path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(promtool), "check", "rules", str(path)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def queries() -> list[str]:
    return [t["expr"] for panel in dashboard()["panels"] for t in panel["targets"]]


def rule_exprs() -> list[str]:
    doc = yaml.safe_load(RULES.read_text())
    return [rule["expr"] for group in doc["groups"] for rule in group["rules"]]


def exported() -> set[str]:
    """The Prometheus names of the bus's instruments (as the collector's exporter names
    them: dots to underscores, unit suffix, _total for counters)."""
    meter = MeterProvider(metric_readers=[InMemoryMetricReader()]).get_meter("govbus")
    instruments = [
        instrument
        for holder in (BusMetrics(meter), AuditMetrics(meter), ApprovalMetrics(list, meter))
        for instrument in vars(holder).values()
    ]
    names = set()
    for instrument in instruments:
        base = instrument.name.replace(".", "_") + ("_seconds" if instrument.unit == "s" else "")
        names.add(base + ("_total" if isinstance(instrument, Counter) else ""))
    return names | HTTP_METRICS


def test_the_alert_rules_pass_promtool(promtool: Path) -> None:
    done = check(promtool, RULES)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_promtool_refuses_a_broken_rule(promtool: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(RULES.read_text().replace("> 10000", "> > 10000", 1))
    assert check(promtool, broken).returncode != 0


def test_every_dashboard_query_parses(promtool: Path, tmp_path: Path) -> None:
    as_rules = {
        "groups": [
            {
                "name": "dashboard-queries",
                "rules": [
                    {"record": f"govbus:panel_query_{i}", "expr": q}
                    for i, q in enumerate(queries())
                ],
            }
        ]
    }
    path = tmp_path / "queries.yaml"
    path.write_text(yaml.safe_dump(as_rules))
    done = check(promtool, path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_rules_and_dashboard_name_only_metrics_the_bus_exports() -> None:
    names = {m for expr in rule_exprs() + queries() for m in METRIC.findall(LABELS.sub("", expr))}
    known = exported()
    assert names - known == set(), (
        f"not exported: {sorted(names - known)}; exported: {sorted(known)}"
    )
    # Lag, dead letters, approval deadlines and audit-chain breaks, at least, are alerted on.
    alerted = {m for expr in rule_exprs() for m in METRIC.findall(LABELS.sub("", expr))}
    assert {
        "govbus_consumer_lag",
        "govbus_events_dead_letters_total",
        "govbus_approvals_awaiting",
        "govbus_audit_chain_breaks_total",
    } <= alerted


def test_the_dashboard_loads_as_grafana_provisions_it() -> None:
    dash = dashboard()
    assert dash["uid"]
    assert dash["title"]
    assert isinstance(dash["schemaVersion"], int)
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    (source,) = yaml.safe_load(DATASOURCES.read_text())["datasources"]
    for panel in dash["panels"]:
        assert set(panel["gridPos"]) == {"h", "w", "x", "y"}
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
        for target in [panel, *panel["targets"]]:
            assert target["datasource"] == {"type": "prometheus", "uid": source["uid"]}
        assert len({t["refId"] for t in panel["targets"]}) == len(panel["targets"])

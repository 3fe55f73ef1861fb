"""The alert rules and the Grafana dashboard (helm/govbus/files/, mounted by compose and
shipped by the chart): the rules pass `promtool check rules`; every dashboard query parses
with promtool too (checked as recording rules); every metric they name is one the bus
exports; the dashboard type-checks against Grafana's own dashboard schema (the TypeScript
types Grafana generates from its CUE kinds, @grafana/schema and the Prometheus query of
@grafana/prometheus, at the version compose runs) with tsc, strict: a misspelt, unknown or
mistyped field anywhere fails; and its structure is what Grafana's provisioning loads."""

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


# The dashboard as a TypeScript constant of Grafana's Dashboard type. Two adaptations, both
# spelled out: JSON writes a string enum (LegendDisplayMode ...) by its value, so Json<T>
# turns enums into their values' literal types (and nothing else); and a panel is typed as
# the panel plugin it is (time series options and field config, Prometheus queries), where
# the generic Panel would let any options through.
GRAFANA_TS = """\
import type { Dashboard, Panel } from '@grafana/schema';
import type { FieldConfig, Options } from
  '@grafana/schema/dist/esm/raw/composable/timeseries/panelcfg/x/TimeSeriesPanelCfg_types.gen';
import type { Prometheus } from '@grafana/prometheus';

type Json<T> = T extends string ? `${T}`
  : T extends readonly (infer U)[] ? Json<U>[]
  : T extends object ? { [K in keyof T]: Json<T[K]> }
  : T;
type TimeSeriesPanel = Omit<Panel<Options, FieldConfig>, 'type' | 'options' | 'targets'> & {
  type: 'timeseries';
  options: Options;
  targets: Prometheus[];
};
type Provisioned = Omit<Dashboard, 'panels'> & { panels: TimeSeriesPanel[] };

export const dashboard: Json<Provisioned> = DASHBOARD;
"""


def grafana_check(schema: Path, work: Path, dashboards: dict[str, Any]) -> dict[str, list[str]]:
    """tsc's errors per dashboard (by name), all checked in one run."""
    (work / "node_modules").symlink_to(schema / "node_modules")
    for name, dash in dashboards.items():
        text = GRAFANA_TS.replace("DASHBOARD", json.dumps(dash, indent=2, ensure_ascii=False))
        (work / f"{name}.ts").write_text(text)
    options = {
        "strict": True,
        "noEmit": True,
        "skipLibCheck": True,  # @grafana/prometheus's React half needs packages not installed
        "moduleResolution": "bundler",
        "module": "esnext",
        "target": "es2022",
        "types": [],
    }
    config = {"compilerOptions": options, "files": [f"{name}.ts" for name in dashboards]}
    (work / "tsconfig.json").write_text(json.dumps(config))
    done = subprocess.run(
        [str(schema / "node_modules" / ".bin" / "tsc"), "-p", "tsconfig.json"],
        cwd=work,
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    errors: dict[str, list[str]] = {name: [] for name in dashboards}
    other = []
    for line in done.stdout.splitlines():
        name = line.split(".ts(", 1)[0]
        errors.get(name, other).append(line)
    # tsc's own trouble (an option, a module not found) is no verdict on a dashboard.
    trouble = [line for line in other if "error TS" in line]
    assert done.returncode in (0, 2), done.stdout + done.stderr
    assert trouble == [], done.stdout + done.stderr
    return errors


def test_the_dashboard_passes_grafana_s_own_schema_and_a_broken_one_does_not(
    grafana_schema: Path, tmp_path: Path
) -> None:
    broken = dashboard()
    broken["panels"][0]["gridPos"]["w"] = "12"  # a string where Grafana wants a number
    broken["panels"][1]["titel"] = "misspelt"  # a field Grafana does not know
    broken["panels"][2]["targets"][0]["exp"] = "up"  # nor does the Prometheus query
    broken["panels"][3]["options"]["legend"]["displayMode"] = "lists"  # not one of its values
    errors = grafana_check(grafana_schema, tmp_path, {"govbus": dashboard(), "broken": broken})
    assert errors["govbus"] == [], "\n".join(errors["govbus"])
    found = "\n".join(errors["broken"])
    assert len(errors["broken"]) == 4, found
    for wrong in ("not assignable to type 'number'", '"titel"', '"exp"', '"lists"'):
        assert wrong in found, found


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

"""The Helm chart: lints, renders with default and with every option on, and every rendered
object is valid against the Kubernetes 1.31 JSON schemas (strict: unknown fields fail).
Security and operability properties are checked on the rendered objects, and a misspelt
setting or a bad value is caught."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from govbus.settings_reference import mentioned, unknown
from tests.deploy.conftest import ROOT
from tests.deploy.test_compose import assert_real_command

CHART = ROOT / "helm" / "govbus"
DEMO_POLICY = ROOT / "devtools" / "govbus_devtools" / "examples" / "policy-demo.yaml"
KUBE = "1.31.0"
EVERYTHING_ON = [
    "--set", "gateway.ingress.enabled=true",
    "--set", "gateway.autoscaling.enabled=false",
    "--set", "kafka.caSecretName=kafka-ca",
    "--set", "gateway.jwt.issuer=https://idp.example.gov.cn",
    "--set", "gateway.jwt.jwksUrl=https://idp.example.gov.cn/jwks",
    "--set", "gateway.quotaPerDay=10000",
    "--set", "telemetry.otlpEndpoint=http://otel-collector:4318",
    "--set", "federation.enabled=true",
    "--set", "federation.peerName=province_a",
    "--set", "federation.peerGatewayUrl=https://bus.province-a.example",
    "--set", "federation.apiKeySecretName=province-a-key",
    "--set-file", f"policy={DEMO_POLICY}",
]  # fmt: skip


def render(helm: Path, *args: str, chart: Path = CHART) -> str:
    done = subprocess.run(
        [str(helm), "template", "t", str(chart), "--kube-version", KUBE, *args],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def objects(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d]


def validate(obj: dict[str, Any]) -> None:
    kubernetes_validate.validate(obj, KUBE, strict=True)


def test_helm_lint_is_clean(helm: Path) -> None:
    done = subprocess.run(
        [str(helm), "lint", str(CHART), "--strict", "--kube-version", KUBE],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("options", [[], EVERYTHING_ON], ids=["defaults", "everything-on"])
def test_every_rendered_object_is_valid_kubernetes(helm: Path, options: list[str]) -> None:
    rendered = objects(render(helm, *options))
    kinds = {o["kind"] for o in rendered}
    assert {
        "StatefulSet",
        "Deployment",
        "Service",
        "ConfigMap",
        "PodDisruptionBudget",
        "NetworkPolicy",
        "Job",
    } <= kinds
    for obj in rendered:
        validate(obj)


def test_the_validator_does_reject_a_broken_object(helm: Path) -> None:
    statefulset = next(o for o in objects(render(helm)) if o["kind"] == "StatefulSet")
    statefulset["spec"]["replicas"] = "three"
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(statefulset)
    statefulset["spec"]["replicas"] = 3
    statefulset["spec"]["replicaz"] = 3
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(statefulset)


def test_pods_run_locked_down_with_probes_and_resources(helm: Path) -> None:
    for obj in objects(render(helm, *EVERYTHING_ON)):
        if obj["kind"] not in ("StatefulSet", "Deployment", "Job"):
            continue
        pod = obj["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["automountServiceAccountToken"] is False
        for container in pod["containers"]:
            sc = container["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True
            assert sc["allowPrivilegeEscalation"] is False
            assert sc["capabilities"]["drop"] == ["ALL"]
            assert container["resources"]["requests"]
            assert "memory" in container["resources"]["limits"]
            if obj["kind"] != "Job":
                assert "livenessProbe" in container
                assert "readinessProbe" in container


def test_secrets_are_referenced_never_inlined(helm: Path) -> None:
    text = render(helm, *EVERYTHING_ON)
    assert all(o["kind"] != "Secret" for o in objects(text))
    settings = next(o for o in objects(text) if o["metadata"]["name"].endswith("-settings"))
    for key in settings["data"]:
        assert not any(
            word in key for word in ("PASSWORD", "KEY", "PEPPER", "DSN")
        ) or key.endswith(("_KEY_ID", "_USERNAME")), key
    assert "GOVBUS_PSEUDONYM_KEY_FILE" in text
    assert "GOVBUS_KAFKA_SASL_PASSWORD_FILE" in text


def test_every_setting_the_chart_uses_exists(helm: Path) -> None:
    text = render(helm, *EVERYTHING_ON)
    templates = "".join(p.read_text() for p in (CHART / "templates").iterdir())
    assert mentioned(text)
    assert unknown(mentioned(text) | mentioned(templates)) == []


def test_a_misspelt_setting_in_the_chart_is_caught(helm: Path, tmp_path: Path) -> None:
    chart = tmp_path / "govbus"
    shutil.copytree(CHART, chart)
    configmap = chart / "templates" / "configmap.yaml"
    configmap.write_text(configmap.read_text().replace("GOVBUS_BATCH_SIZE:", "GOVBUS_BATCHSIZE:"))
    assert unknown(mentioned(render(helm, chart=chart))) == ["GOVBUS_BATCHSIZE"]


def test_values_schema_refuses_a_bad_value(helm: Path) -> None:
    done = subprocess.run(
        [
            str(helm),
            "template",
            "t",
            str(CHART),
            "--kube-version",
            KUBE,
            "--set",
            "topics.partitions=0",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0
    assert "topics.partitions" in done.stderr


def test_every_command_the_chart_runs_exists(helm: Path) -> None:
    commands = []
    for obj in objects(render(helm, *EVERYTHING_ON)):
        if obj["kind"] not in ("StatefulSet", "Deployment", "Job"):
            continue
        for container in obj["spec"]["template"]["spec"]["containers"]:
            commands.append(container["args"])
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                command = container.get(probe, {}).get("exec", {}).get("command", [])
                if command[:1] == ["govbus"]:
                    commands.append(command[1:])
    assert ["index", "run"] in commands
    for command in commands:
        assert_real_command(command)

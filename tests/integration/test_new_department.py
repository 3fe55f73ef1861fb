"""A new department joins, as docs/gateway.md and docs/subscriber-sdk.md tell it to: the
operator issues its credentials (API keys, SCRAM users, `acl sync`), the publisher (tax)
publishes from its own system through Kafka with the SDK and through HTTP ingest, and the
new subscribing department reads, acks and handles a correction through the subscriber SDK,
then reads the same deliveries Kafka-natively with the examples (Python and Java)."""

from __future__ import annotations

import datetime as dt
import os
import random
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from confluent_kafka.admin import AdminClient

from govbus.adapters.publisher import Publisher
from govbus.client import Delivery, Handlers, Subscriber
from govbus.config import ConnectionSettings, GatewaySettings, LocalRuntimeSettings
from govbus.gateway.kafka_acl import set_password, sync
from govbus.gateway.keystore import KeyStore
from govbus.policy import parse_policy
from govbus.schemas.catalogue import default_catalogue
from govbus.schemas.jsonvalues import to_json
from govbus_devtools.demo.sample_data import credit_code
from tests.integration.helpers import APPROVAL, start_worker
from tests.integration.test_client import Until
from tests.integration.test_gateway import Gateway
from tests.keys import delivery_id

ROOT = Path(__file__).resolve().parents[2]
TAX = "gov.tax.tax_registered"


def registration(rng: random.Random) -> dict[str, object]:
    return {
        "credit_code": credit_code(rng, "110108"),
        "tax_authority": "Haidian",
        "taxpayer_type": "GENERAL",
        "registered_on": dt.date(2026, 12, 1),
    }


@pytest.fixture
def joined(
    runtime: ConnectionSettings,
    bootstrap: str,
    uid: str,
    state_dir: Path,
    worker_env: dict[str, str],
    tmp_path: Path,
) -> Iterator[dict[str, str]]:
    dept = f"nd_{uid}"
    subscription = {
        "id": f"nd-{uid}",
        "subscriber": dept,
        "event_types": [TAX],
        "fields": dict.fromkeys(("credit_code", "tax_authority", "registered_on"), "clear"),
        "legal_basis": "Social Insurance Law art. 57",
        "purpose": "enrol new employers",
        "approval": APPROVAL,
    }
    worker = start_worker(
        bootstrap, uid, state_dir, worker_env, tmp_path, [subscription], from_end=True
    )
    settings = GatewaySettings(rate_limit_per_minute=10_000)
    keys = KeyStore(runtime.pg, settings.api_key_pepper.get_secret_value().encode())
    keys.init()
    admin = AdminClient({"bootstrap.servers": bootstrap})
    # The operator's onboarding: SCRAM users for both, then the ACLs from policy + catalogue.
    creds = {
        "dept": dept,
        "tax_password": set_password(admin, "tax"),
        "dept_password": set_password(admin, dept),
        "tax_key": keys.issue("tax", ["publisher"]),
        "dept_key": keys.issue(dept, ["subscriber"]),
        "sasl": f"127.0.0.1:{LocalRuntimeSettings().kafka_sasl_port}",
    }
    report = sync(admin, parse_policy({"subscriptions": [subscription]}), default_catalogue())
    assert dept in report.granted
    assert "tax" in report.publishers
    try:
        with Gateway(runtime, settings) as gw:
            yield {**creds, "gateway": gw.url}
    finally:
        worker.stop()


# Beyond the usual budget: it also builds and runs the Java example with Maven (two JVMs).
@pytest.mark.timeout(600)
def test_a_new_department_publishes_and_subscribes_from_the_docs(
    joined: dict[str, str], uid: str, tmp_path: Path
) -> None:
    rng = random.Random(uid)
    dept = joined["dept"]
    # Tax's own system, with its own SCRAM user: the SDK needs no bus secret.
    tax_conn = ConnectionSettings(
        kafka_bootstrap=joined["sasl"],
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_username="tax",
        kafka_sasl_password=joined["tax_password"],  # type: ignore[arg-type]
    )
    registered = registration(rng)
    with Publisher("tax", conn=tax_conn) as pub:
        by_kafka = pub.publish(TAX, registered).result(60).event_id
    # And over HTTP ingest, then a correction of that one.
    headers = {"X-API-Key": joined["tax_key"]}
    wrong = registration(rng)
    with httpx.Client(base_url=joined["gateway"], timeout=60) as http:
        first = http.post(
            f"/v1/publish/{TAX}",
            json=to_json(wrong),
            headers={**headers, "Idempotency-Key": f"tax-{uid}-1"},
        )
        assert first.status_code == 202, first.text
        by_http = first.json()["id"]
        fixed = {**wrong, "tax_authority": "Chaoyang"}
        again = http.post(
            f"/v1/publish/{TAX}",
            json=to_json(fixed),
            headers={**headers, "ce-govbuscorrects": by_http},
        )
        assert again.status_code == 202, again.text
        correction = again.json()["id"]

    # The new department's subscriber, with the SDK.
    mine = {i: delivery_id(dept, "tax", i) for i in (by_kafka, by_http, correction)}
    done = Until(set(mine.values()))
    with Subscriber(joined["gateway"], joined["dept_key"], wait_s=2) as sub:
        stats = sub.run(
            Handlers(
                on_event=lambda d: done.add("event", d),
                on_correction=lambda d: done.add("correction", d),
            ),
            stop=done,
        )
    assert done.is_set(), stats
    kinds = {d.id: (kind, d) for kind, d in done.seen}
    assert {kinds[mine[by_kafka]][0], kinds[mine[by_http]][0]} == {"event"}
    kind, amended = kinds[mine[correction]]
    assert (kind, amended.corrects) == ("correction", mine[by_http])
    assert amended.data["tax_authority"] == "Chaoyang"
    assert "taxpayer_type" not in amended.data  # not granted: never delivered
    leftover: list[Delivery] = []
    with Subscriber(joined["gateway"], joined["dept_key"], wait_s=1) as sub:
        sub.run(leftover.append, idle_exit_s=3)
    assert leftover == []  # acked: not delivered again

    # Kafka-native, with the department's own SCRAM user: the Python example...
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP": joined["sasl"],
        "DEPARTMENT": dept,
        "KAFKA_PASSWORD": joined["dept_password"],
    }
    read = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "kafka_consumer.py"), "3"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert read.returncode == 0, read.stderr[-2000:]
    assert all(delivery_id_ in read.stdout for delivery_id_ in mine.values()), read.stdout
    assert f"correction of {mine[by_http]}" in read.stdout
    assert "Chaoyang" in read.stdout

    # ... and the Java one, built with Maven from its pom, which decodes the Avro values.
    read_by_java = run_java_example(joined, tmp_path)
    assert set(read_by_java) == set(mine.values()), read_by_java
    expected = {
        mine[by_kafka]: ("-", "-", registered),
        mine[by_http]: ("-", "-", wrong),
        mine[correction]: ("correction", mine[by_http], fixed),
    }
    for own_id, (amendment, amends, published) in expected.items():
        got = read_by_java[own_id]
        assert (got.ce_type, got.amendment, got.amends) == (f"{TAX}.v1", amendment, amends)
        assert got.fields == {
            "credit_code": published["credit_code"],
            "tax_authority": published["tax_authority"],
            "registered_on": str(published["registered_on"]),  # an Avro date, read as a date
        }  # taxpayer_type is not granted: not in the delivery's schema either


@dataclass
class JavaRead:
    """One record as the Java example printed it."""

    ce_type: str
    amendment: str
    amends: str
    fields: dict[str, str] = field(default_factory=dict)


def run_java_example(joined: dict[str, str], work: Path) -> dict[str, JavaRead]:
    """Build examples/java-consumer as its pom says (Maven fetches kafka-clients and Avro),
    run it for three records; what it printed, by delivery id."""
    mvn, javac = shutil.which("mvn"), shutil.which("javac")
    if mvn is None or javac is None:
        pytest.skip("no JDK or Maven: the Java example runs where they are installed")
    project = work / "java-consumer"
    shutil.copytree(ROOT / "examples" / "java-consumer", project)
    fetched = subprocess.run(
        [mvn, "-B", "-q", "dependency:copy-dependencies", "-DincludeScope=runtime"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert fetched.returncode == 0, (fetched.stdout + fetched.stderr)[-3000:]
    libs = project / "target" / "dependency"
    sources = [str(p) for p in (project / "src").rglob("*.java")]
    classes = project / "target" / "classes"
    compiled = subprocess.run(
        [javac, "-Xlint:all", "-Werror", "-d", str(classes), "-cp", f"{libs}/*", *sources],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert compiled.returncode == 0, compiled.stderr
    ran = subprocess.run(
        [
            shutil.which("java") or "java",
            "-cp",
            f"{classes}:{libs}/*",
            "gov.example.DeliveryConsumer",
            joined["sasl"],
            joined["dept"],
            joined["dept_password"],
            "3",
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr[-2000:]
    return parse_java_output(ran.stdout)


def parse_java_output(text: str) -> dict[str, JavaRead]:
    """'id type amendment amends' lines, each followed by '    name: value' lines."""
    read: dict[str, JavaRead] = {}
    current = JavaRead("", "", "")
    for line in text.splitlines():
        if line.startswith("    "):
            name, _, value = line.strip().partition(": ")
            current.fields[name] = value
        elif line.strip():
            own_id, ce_type, amendment, amends = line.split()
            current = read[own_id] = JavaRead(ce_type, amendment, amends)
    return read

"""The bus on a secured cluster: the worker (Faust and librdkafka) and a publisher reach Kafka
only through the SASL/SCRAM listener, with the password from a mounted-secret file; a wrong
password keeps the worker from starting instead of running half-connected."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient
from pydantic import SecretStr

from govbus.config import ConnectionSettings, GatewaySettings, LocalRuntimeSettings
from govbus.errors import ServiceUnavailableError
from govbus.gateway.app import create_app
from govbus.gateway.kafka_acl import set_password
from govbus.probes import kafka_ready, readiness
from govbus.schemas.jsonvalues import to_json
from govbus_devtools.demo.sample_data import birth
from tests.asgi import request
from tests.integration.helpers import birth_subscription, read_all, start_worker, wait_until

BIRTH = "gov.health.birth_registered"


def secure_env(tmp_path: Path, password: str) -> dict[str, str]:
    secret = tmp_path / "kafka-password"
    secret.write_text(password)
    return {
        "GOVBUS_KAFKA_BOOTSTRAP": f"127.0.0.1:{LocalRuntimeSettings().kafka_sasl_port}",
        "GOVBUS_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "GOVBUS_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "GOVBUS_KAFKA_SASL_USERNAME": "admin",
        "GOVBUS_KAFKA_SASL_PASSWORD_FILE": str(secret),
    }


def test_worker_and_publisher_run_over_sasl_scram(
    runtime: ConnectionSettings,
    bootstrap: str,
    uid: str,
    state_dir: Path,
    worker_env: dict[str, str],
    tmp_path: Path,
) -> None:
    password = set_password(AdminClient({"bootstrap.servers": bootstrap}), "admin")
    env = secure_env(tmp_path, password)
    worker = start_worker(
        bootstrap, uid, state_dir, worker_env, tmp_path, [birth_subscription(uid)], env
    )
    try:
        rng = random.Random(uid)
        births = [birth(rng, dt.date.today()) for _ in range(5)]
        rows = tmp_path / "births.jsonl"
        rows.write_text("\n".join(json.dumps(to_json(b)) for b in births) + "\n")
        loaded = subprocess.run(
            [
                str(Path(sys.executable).parent / "govbus"),
                "load",
                str(rows),
                "--type",
                BIRTH,
                "--source",
                "health",
            ],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert loaded.returncode == 0, loaded.stdout + loaded.stderr
        assert "published 5" in loaded.stdout
        # A new worker group also delivers the topic's history; ours are the five we loaded.
        ours = {b["certificate_no"] for b in births}

        def delivered() -> set[str]:
            got = {str(r.record["certificate_no"]) for r in read_all(bootstrap, f"ps_{uid}")}
            return got & ours

        assert wait_until(lambda: delivered() == ours, 90)
    finally:
        worker.stop()


def test_a_wrong_password_stops_the_worker_from_starting(
    runtime: ConnectionSettings,
    bootstrap: str,
    uid: str,
    state_dir: Path,
    worker_env: dict[str, str],
    tmp_path: Path,
) -> None:
    env = secure_env(tmp_path, "not-the-password")
    with pytest.raises(ServiceUnavailableError):
        start_worker(
            bootstrap, uid, state_dir, worker_env, tmp_path, [birth_subscription(uid)], env
        )


def over_sasl(conn: ConnectionSettings, password: str) -> ConnectionSettings:
    """The service's settings for the runtime's SASL/SCRAM listener (Redis, PostgreSQL as is)."""
    return conn.model_copy(
        update={
            "kafka_bootstrap": f"127.0.0.1:{LocalRuntimeSettings().kafka_sasl_port}",
            "kafka_security_protocol": "SASL_PLAINTEXT",
            "kafka_sasl_mechanism": "SCRAM-SHA-512",
            "kafka_sasl_username": "admin",
            "kafka_sasl_password": SecretStr(password),
        }
    )


def test_readiness_reaches_kafka_with_the_services_own_security(
    runtime: ConnectionSettings, bootstrap: str
) -> None:
    """/readyz and `govbus health ready` probe with the ConnectionSettings the service uses: on a
    SASL-only listener they answer ready with its credentials, and not ready without them."""
    secure = over_sasl(
        runtime, set_password(AdminClient({"bootstrap.servers": bootstrap}), "admin")
    )
    assert readiness(secure) == {"kafka": True, "redis": True, "postgres": True}
    assert not kafka_ready(secure.model_copy(update={"kafka_security_protocol": "PLAINTEXT"}))
    assert not kafka_ready(over_sasl(runtime, "not-the-password"))

    ready = request(create_app(secure, GatewaySettings()), "GET", "/readyz")
    assert ready.status_code == 200, ready.text
    refused = request(create_app(over_sasl(runtime, "wrong"), GatewaySettings()), "GET", "/readyz")
    assert refused.status_code == 503
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "kafka" in refused.json()["detail"]

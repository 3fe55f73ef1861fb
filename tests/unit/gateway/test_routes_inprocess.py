"""Gateway routes in process, in milliseconds: the app gets its clients handed in (an in-memory
key store, a codec with one projected schema, a limiter that never limits), and httpx speaks
to it over ASGI. The same routes run against the real stack in tests/integration/test_gateway.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

from govbus.config import ConnectionSettings, GatewaySettings
from govbus.gateway.app import create_app
from govbus.gateway.auth import Authenticator
from govbus.gateway.authority import PUBLISHER, SUBSCRIBER
from govbus.gateway.keystore import KeyRecord
from govbus.schemas.codec import AvroCodec
from govbus.schemas.projection import SUBSCRIBER_ATTR
from tests.asgi import request

SCHEMA: dict[str, Any] = {
    "type": "record",
    "name": "BirthForHealth",
    "namespace": "govbus.test",
    SUBSCRIBER_ATTR: "civil_affairs",  # as the worker marks each projection
    "fields": [{"name": "certificate_no", "type": "string"}],
}


@dataclass
class MemoryKeys:
    """The key store's verify(), over a dict."""

    records: dict[str, KeyRecord] = field(default_factory=dict)

    def verify(self, api_key: str) -> KeyRecord | None:
        return self.records.get(api_key)


@dataclass
class Decoder:
    codec: AvroCodec
    refreshed: int = 0

    def refresh_schemas(self) -> None:
        self.refreshed += 1


class NoLimits:
    def check(self, department: str) -> None:
        return None


@pytest.fixture
def gateway() -> SimpleNamespace:
    keys = MemoryKeys(
        {
            "sub-key": KeyRecord("k1", "civil_affairs", (SUBSCRIBER,), revoked=False),
            "tax-key": KeyRecord("k4", "tax", (SUBSCRIBER,), revoked=False),
            "pub-key": KeyRecord("k2", "health", (PUBLISHER,), revoked=False),
            "old-key": KeyRecord("k3", "civil_affairs", (SUBSCRIBER,), revoked=True),
        }
    )
    codec = AvroCodec()
    fingerprint = codec.register(SCHEMA)
    decoder = Decoder(codec)
    settings = GatewaySettings()
    services: Any = SimpleNamespace(
        settings=settings,
        auth=Authenticator(keys, [], None, "govbus"),  # type: ignore[arg-type]
        limiter=NoLimits(),
        consumption=SimpleNamespace(decoder=decoder),
    )
    app = create_app(ConnectionSettings(), settings, services=services)
    return SimpleNamespace(app=app, fingerprint=fingerprint.hex(), decoder=decoder)


def get(gw: SimpleNamespace, path: str, key: str | None = None) -> Any:
    return request(gw.app, "GET", path, headers={"X-API-Key": key} if key else {})


def test_liveness_answers_without_credentials(gateway: SimpleNamespace) -> None:
    assert get(gateway, "/healthz").json() == {"status": "ok"}


@pytest.mark.parametrize("key", [None, "no-such-key", "old-key"])
def test_a_missing_unknown_or_revoked_key_is_401_problem(
    gateway: SimpleNamespace, key: str | None
) -> None:
    response = get(gateway, f"/v1/schemas/{gateway.fingerprint}", key)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == 401


def test_a_subscriber_reads_a_delivery_schema(gateway: SimpleNamespace) -> None:
    response = get(gateway, f"/v1/schemas/{gateway.fingerprint}", "sub-key")
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "BirthForHealth"
    assert gateway.decoder.refreshed == 0  # known: no trip to the schema topic


def test_another_departments_schema_is_not_found(gateway: SimpleNamespace) -> None:
    response = get(gateway, f"/v1/schemas/{gateway.fingerprint}", "tax-key")
    assert response.status_code == 404
    assert response.json()["type"].endswith("no-such-schema")


def test_an_unknown_schema_is_looked_up_once_then_404(gateway: SimpleNamespace) -> None:
    response = get(gateway, "/v1/schemas/00112233aabbccdd", "sub-key")
    assert response.status_code == 404
    assert response.json()["type"].endswith("no-such-schema")
    assert gateway.decoder.refreshed == 1


def test_a_publisher_key_may_not_read_schemas(gateway: SimpleNamespace) -> None:
    response = get(gateway, f"/v1/schemas/{gateway.fingerprint}", "pub-key")
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")


def test_a_malformed_fingerprint_is_422(gateway: SimpleNamespace) -> None:
    assert get(gateway, "/v1/schemas/not-hex", "sub-key").status_code == 422

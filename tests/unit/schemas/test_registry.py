"""The registry client and the Confluent path end to end through the SDK encoder and the
worker's validator. The registry here is an in-process stub of the REST API (no registry
server is available from this machine's package sources); it checks the client's requests."""

from __future__ import annotations

import datetime as dt
import json
import random

import httpx
import pytest

from govbus.adapters.publisher import EventEncoder
from govbus.config import KeySettings
from govbus.pseudonym import Pseudonymizer
from govbus.schemas.catalogue import default_catalogue
from govbus.schemas.codec import AvroCodec
from govbus.schemas.registry import RegistryError, SchemaRegistryClient
from govbus.streams.messages import Accepted, InMessage
from govbus.streams.validate import Validator
from govbus_devtools.demo.sample_data import birth

CATALOGUE = default_catalogue()


class StubRegistry:
    def __init__(self) -> None:
        self.by_id: dict[int, str] = {}
        self.subjects: dict[str, list[int]] = {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        parts = request.url.path.strip("/").split("/")
        if request.method == "POST" and parts[0] == "subjects" and parts[2] == "versions":
            body = json.loads(request.content)
            assert body["schemaType"] == "AVRO"
            schema_id = next((i for i, s in self.by_id.items() if s == body["schema"]), None)
            if schema_id is None:
                schema_id = len(self.by_id) + 1
                self.by_id[schema_id] = body["schema"]
            self.subjects.setdefault(parts[1], []).append(schema_id)
            return httpx.Response(200, json={"id": schema_id})
        if request.method == "GET" and parts[:2] == ["schemas", "ids"]:
            schema = self.by_id.get(int(parts[2]))
            if schema is None:
                return httpx.Response(404, json={"error_code": 40403, "message": "not found"})
            return httpx.Response(200, json={"schema": schema})
        return httpx.Response(405)


def client(stub: StubRegistry) -> SchemaRegistryClient:
    return SchemaRegistryClient("http://registry.invalid", transport=httpx.MockTransport(stub))


def test_sdk_writes_confluent_framing_and_the_worker_reads_it() -> None:
    stub = StubRegistry()
    encoder = EventEncoder("health", CATALOGUE, client(stub))
    data = birth(random.Random(1), dt.date(2026, 6, 1))
    now = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)
    prepared = encoder.prepare("gov.health.birth_registered", data, time=now)
    assert prepared.value[:1] == b"\x00"
    assert stub.subjects == {"govbus.events.health.birth_registered.v2-value": [1]}
    validator = Validator(
        CATALOGUE, AvroCodec(client(stub)), 100_000, subjects=Pseudonymizer(KeySettings())
    )
    msg = InMessage(prepared.topic, 0, 0, prepared.key, prepared.value, prepared.headers)
    result = validator(msg, now)
    assert isinstance(result, Accepted)
    assert result.record["mother_id"] == data["mother_id"]


def test_unknown_ids_and_unreachable_registries_are_clear_errors() -> None:
    stub = StubRegistry()
    with pytest.raises(KeyError):
        client(stub).schema(99)

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    broken = SchemaRegistryClient("http://registry.invalid", transport=httpx.MockTransport(down))
    with pytest.raises(RegistryError, match="unreachable"):
        broken.register("s-value", {"type": "string"})

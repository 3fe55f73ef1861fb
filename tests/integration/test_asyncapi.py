"""The AsyncAPI document validates against the official AsyncAPI 3.0.0 JSON schema
(from the @asyncapi/specs npm package, fetched once into the govbus cache: the
``asyncapi_3_schema`` fixture in tests/integration/conftest.py)."""

from __future__ import annotations

from typing import Any

import jsonschema

from govbus.schemas.asyncapi import asyncapi_document
from govbus.schemas.catalogue import default_catalogue


def test_catalogue_asyncapi_document_is_valid(asyncapi_3_schema: dict[str, Any]) -> None:
    doc = asyncapi_document(default_catalogue(), version="0.1.0", server="127.0.0.1:19092")
    validator = jsonschema.Draft7Validator(asyncapi_3_schema)
    errors = [f"{list(e.path)}: {e.message[:200]}" for e in validator.iter_errors(doc)]
    assert errors == []
    # An event channel per type, deliveries, dead letters, HTTP pull and SSE.
    assert len(doc["channels"]) == len(default_catalogue()) + 4
    delivery = doc["channels"]["delivery"]["messages"]
    assert len(delivery) == len(default_catalogue())
    for ref in delivery.values():
        message = doc["components"]["messages"][ref["$ref"].rsplit("/", 1)[1]]
        assert message["payload"]["properties"]
        assert "ce_govbuscorrects" in message["headers"]["properties"]
    assert {"http_pull", "sse"} <= set(doc["channels"])


def test_the_validator_does_reject_a_broken_document(asyncapi_3_schema: dict[str, Any]) -> None:
    doc = asyncapi_document(default_catalogue(), version="0.1.0", server="127.0.0.1:19092")
    del doc["info"]
    assert list(jsonschema.Draft7Validator(asyncapi_3_schema).iter_errors(doc))

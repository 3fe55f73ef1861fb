"""Schemathesis against the gateway's own OpenAPI, with real credentials, on the real runtime:
whatever a client sends, the answer is never a server error, errors are problem+json without
internals, and every response conforms to the published schema."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance

from govbus.config import ConnectionSettings, GatewaySettings
from govbus.gateway.keystore import KeyStore
from tests.integration.test_gateway import Gateway

EXAMPLES_PER_OPERATION = 25


def check(case: Any, key: str) -> None:
    response = case.call(headers={"X-API-Key": key}, timeout=30)
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text[:500]}"
    if response.status_code >= 400:
        content_type = response.headers.get("content-type", [""])[0]
        assert content_type.startswith("application/problem+json"), content_type
        assert {"type", "title", "status"} <= set(response.json())
        assert "Traceback" not in response.text
    # Cursors and Last-Event-IDs are opaque tokens the gateway issued: no schema can say which
    # strings are valid, so "schema-valid but refused" (400 bad-cursor) is right for them.
    case.validate_response(response, excluded_checks=[positive_data_acceptance])


def test_no_input_makes_the_gateway_fail_or_break_its_contract(
    runtime: ConnectionSettings, uid: str
) -> None:
    settings_ = GatewaySettings(rate_limit_per_minute=100_000)
    keys = KeyStore(runtime.pg, settings_.api_key_pepper.get_secret_value().encode())
    keys.init()
    # A publisher and subscriber with a department of its own: every route is reachable,
    # and nothing it does can touch another test's data.
    key = keys.issue(f"fz_{uid}", ["publisher", "subscriber"])
    with Gateway(runtime, settings_) as gateway:
        schema = schemathesis.openapi.from_url(f"{gateway.url}/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 5
        for operation in operations:

            @given(case=operation.as_strategy())
            @settings(
                max_examples=EXAMPLES_PER_OPERATION,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                database=None,
            )
            def fuzz(case: Any) -> None:
                check(case, key)

            try:
                fuzz()
            except AssertionError as exc:
                pytest.fail(f"{operation.method.upper()} {operation.path}: {exc}")

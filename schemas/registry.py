"""A client for the Confluent Schema Registry REST API (also served by Karapace, Apicurio's
ccompat API and Redpanda), used when GOVBUS_SCHEMA_REGISTRY_URL is set: publishers register
the writer schema under ``<topic>-value`` and frame payloads with its id."""

from __future__ import annotations

import json
from typing import Any

import httpx

from govbus.schemas.catalogue import Schema

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


class RegistryError(RuntimeError):
    """The registry refused or could not be reached."""


class SchemaRegistryClient:
    def __init__(
        self, url: str, *, timeout_s: float = 10.0, transport: httpx.BaseTransport | None = None
    ) -> None:
        self._http = httpx.Client(
            base_url=url.rstrip("/"),
            timeout=timeout_s,
            headers={"Accept": CONTENT_TYPE},
            transport=transport,
        )
        self._ids: dict[tuple[str, str], int] = {}
        self._schemas: dict[int, Schema] = {}

    def register(self, subject: str, schema: Schema) -> int:
        text = json.dumps(schema, sort_keys=True)
        cached = self._ids.get((subject, text))
        if cached is not None:
            return cached
        body = self._call(
            "POST", f"/subjects/{subject}/versions", json={"schema": text, "schemaType": "AVRO"}
        )
        schema_id = int(body["id"])
        self._ids[(subject, text)] = schema_id
        self._schemas[schema_id] = schema
        return schema_id

    def schema(self, schema_id: int) -> Schema:
        """The schema for an id; raises KeyError when the registry has none."""
        if schema_id not in self._schemas:
            try:
                body = self._call("GET", f"/schemas/ids/{schema_id}")
            except RegistryError as exc:
                raise KeyError(schema_id) from exc
            self._schemas[schema_id] = json.loads(body["schema"])
        return self._schemas[schema_id]

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise RegistryError(f"schema registry unreachable: {type(exc).__name__}") from None
        if response.status_code >= 400:
            raise RegistryError(
                f"schema registry {method} {path}: {response.status_code} {response.text[:200]}"
            )
        data: dict[str, Any] = response.json()
        return data

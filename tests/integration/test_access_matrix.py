"""The access matrix (tests/access_matrix.py) against the real gateway: every route, every
caller, the caller's own department and another's, each a real HTTP request on a real
target (a real pending request, a real key, a real inbound agreement), answered with
exactly the status the table says. Then the listings: each shows only what its caller may
see."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from confluent_kafka import Producer

from govbus import policy_store
from govbus.config import ConnectionSettings, GatewaySettings
from govbus.gateway import cursor as cursors
from govbus.gateway.keystore import KeyStore
from govbus.kafka_admin import ensure_topics
from govbus.policy import Subscription
from govbus.schema_store import schema_record
from govbus.schemas.catalogue import default_catalogue
from govbus.schemas.codec import AvroCodec
from govbus.schemas.projection import projected_schema
from govbus.schemas.topics import SCHEMAS, delivery_topic
from govbus_devtools.demo.parts import CitizenLogin
from govbus_devtools.demo.sample_data import birth, citizen_id, licence_id
from tests.access_matrix import BUREAU, ROLE_OF, Row, cells, department_of
from tests.integration.test_gateway import Gateway

A, B = "health", "public_security"  # A owns conditional data (births), B another department
Call = tuple[str, str, dict[str, Any]]  # method, path, httpx keyword arguments


@dataclass
class World:
    """The gateway and the real things the matrix's requests touch."""

    http: httpx.Client
    keys: KeyStore
    conn: ConnectionSettings
    uid: str
    login: CitizenLogin
    setup: dict[str, dict[str, str]]  # department -> headers of an admin used to set up
    schema_fp: str
    other_schema_fp: str  # of a delivery to B
    counter: Iterator[int] = field(default_factory=itertools.count)
    made: dict[tuple[str, str], str] = field(default_factory=dict)  # unused targets

    @property
    def third(self) -> str:
        return f"mx_{self.uid}"

    def name(self, prefix: str) -> str:
        return f"{prefix}-{self.uid}-{next(self.counter)}"

    def admin_of(self, dept: str) -> dict[str, str]:
        if dept not in self.setup:
            self.setup[dept] = {"X-API-Key": self.keys.issue(dept, ["admin"])}
        return self.setup[dept]

    def request(self, subscriber: str, event_type: str, fields: dict[str, str]) -> str:
        sub_id = self.name("m")
        r = self.http.post(
            "/v1/admin/subscriptions",
            json={
                "id": sub_id,
                "subscriber": subscriber,
                "event_types": [event_type],
                "fields": fields,
                "legal_basis": "a statute",
                "purpose": "a purpose",
            },
            headers=self.admin_of(subscriber),
        )
        assert r.status_code == 201, r.text
        return sub_id

    def conditional_request(self, provider: str) -> str:
        """A third department's pending request for ``provider``'s conditional data."""
        if provider == A:
            return self.request(self.third, "gov.health.birth_registered", {"sex": "clear"})
        return self.request(
            self.third, "gov.public_security.household_registered", {"sex": "clear"}
        )

    def own_department_request(self, dept: str) -> str:
        """A pending request of a provider for its own data: the gateway refuses to take
        one, so it is written to the policy topic as an operator's file could."""
        sub = Subscription.model_validate(
            {
                "id": self.name("own"),
                "subscriber": dept,
                "event_types": ["gov.health.birth_registered"],
                "fields": {"sex": "clear"},
                "legal_basis": "a statute",
                "purpose": "a purpose",
                "status": "pending",
                "requested_at": dt.datetime.now(dt.UTC),
            }
        )
        policy_store.write(self.conn.bootstrap, self.conn.policy_topic, [sub])
        return sub.id

    def agreement(self) -> str:
        sub_id = self.name("in")
        r = self.http.put(
            f"/v1/admin/inbound/peer_{self.uid}/{sub_id}",
            json=inbound_body(sub_id),
            headers=self.admin_of(BUREAU),
        )
        assert r.status_code == 201, r.text
        return sub_id

    def target(self, key: tuple[str, str], make: Callable[[], str]) -> str:
        """A target for this (row, scope), made once and reused until a call used it."""
        if key not in self.made:
            self.made[key] = make()
        return self.made[key]


def inbound_body(sub_id: str) -> dict[str, Any]:
    return {
        "id": sub_id,
        "subscriber": "province_a",
        "event_types": ["gov.market_regulation.enterprise_registered"],
        "fields": {"credit_code": "clear"},
        "legal_basis": "inter-provincial agreement",
        "purpose": "cross-province business start-up",
    }


DECISION = {"json": {"reason": "as the matrix says", "reference": "M-1"}}


def call_for(w: World, row: Row, scope: str, dept: str) -> tuple[Call, tuple[str, str] | None]:
    """The request of this cell, and the key of the target it uses up if it succeeds."""
    other = B
    mine = dept if scope == "own" else other
    route, key = row.route, (row.route, f"{scope}:{dept}")
    if route == "GET /v1/events":
        return ("GET", "/v1/events", {"params": {"limit": 1}}), None
    if route == "POST /v1/events/ack":
        return ("POST", "/v1/events/ack", {"json": {"cursor": cursors.encode({0: 0})}}), None
    if route == "GET /v1/events/stream":
        return ("STREAM", "/v1/events/stream", {}), None
    if route == "GET /v1/schemas/{fp}":
        fp = w.schema_fp if scope == "own" else w.other_schema_fp
        return ("GET", f"/v1/schemas/{fp}", {}), None
    if route == "POST /v1/corrections/ack":
        return ("POST", "/v1/corrections/ack", {"json": {"ids": [str(uuid.uuid4())]}}), None
    if route == "GET /v1/licences/verify":
        licence = licence_id("11100000", "110108", "123456789")
        params = {"licence_id": licence, "purpose": "matrix check"}
        return ("GET", "/v1/licences/verify", {"params": params}), None
    if route == "POST /v1/publish/{type}":
        if scope == "own":
            data = json.loads(json.dumps(birth(random.Random(w.uid), dt.date.today()), default=str))
            return ("POST", "/v1/publish/gov.health.birth_registered", {"json": data}), None
        return ("POST", "/v1/publish/gov.public_security.household_registered", {"json": {}}), None
    if route == "GET /v1/admin/subscriptions":
        return ("GET", "/v1/admin/subscriptions", {}), None
    if route == "POST /v1/admin/subscriptions":
        body = {
            "id": w.name("req"),
            "subscriber": mine,
            "event_types": ["gov.tax.tax_registered"],
            "fields": {"credit_code": "clear"},
            "legal_basis": "a statute",
            "purpose": "a purpose",
        }
        return ("POST", "/v1/admin/subscriptions", {"json": body}), None
    if route.startswith("POST /v1/admin/subscriptions/{id}/approve (own"):
        sub_id = w.target(key, lambda: w.own_department_request(dept))
        return ("POST", f"/v1/admin/subscriptions/{sub_id}/approve", DECISION), key
    if route.endswith("/approve") or route.endswith("/reject"):
        verb = route.rsplit("/", 1)[1]
        sub_id = w.target(key, lambda: w.conditional_request(mine))
        return ("POST", f"/v1/admin/subscriptions/{sub_id}/{verb}", DECISION), key
    if route == "POST /v1/admin/subscriptions/{id}/revoke (as its provider)":
        sub_id = w.target(key, lambda: w.conditional_request(dept))
        return ("POST", f"/v1/admin/subscriptions/{sub_id}/revoke", DECISION), key
    if route == "POST /v1/admin/subscriptions/{id}/revoke":
        sub_id = w.target(
            key, lambda: w.request(mine, "gov.tax.tax_registered", {"credit_code": "clear"})
        )
        return ("POST", f"/v1/admin/subscriptions/{sub_id}/revoke", DECISION), key
    if route == "GET /v1/admin/approvals":
        return ("GET", "/v1/admin/approvals", {}), None
    if route.startswith("POST /v1/admin/keys"):
        roles = ["citizen_portal"] if "citizen_portal" in route else ["subscriber"]
        return ("POST", "/v1/admin/keys", {"json": {"department": mine, "roles": roles}}), None
    if route == "GET /v1/admin/keys":
        return ("GET", "/v1/admin/keys", {}), None
    if route == "DELETE /v1/admin/keys/{id}":
        key_id = w.target(key, lambda: w.keys.issue(mine, ["subscriber"]).split("_")[1])
        return ("DELETE", f"/v1/admin/keys/{key_id}", {}), key
    if route == "GET /v1/admin/inbound":
        return ("GET", "/v1/admin/inbound", {}), None
    if route == "PUT /v1/admin/inbound/{peer}/{id}":
        sub_id = w.name("in")
        path = f"/v1/admin/inbound/peer_{w.uid}/{sub_id}"
        return ("PUT", path, {"json": inbound_body(sub_id)}), None
    if route == "POST /v1/admin/inbound/{peer}/{id}/revoke":
        sub_id = w.target(key, w.agreement)
        return ("POST", f"/v1/admin/inbound/peer_{w.uid}/{sub_id}/revoke", DECISION), key
    if route == "POST /v1/disclosures":
        person = citizen_id("110105", dt.date(1970, 1, 1), int(w.uid[:3], 16) % 499 * 2 + 1)
        other_person = citizen_id("110105", dt.date(1971, 1, 1), 3)
        asked = person if scope == "own" else other_person
        body = {"identifier": asked, "assertion": w.login.assertion(person)}
        return ("POST", "/v1/disclosures", {"json": body}), None
    if route == "GET /v1/ops/trace/{event_id}":
        return ("GET", f"/v1/ops/trace/never-{w.uid}", {}), None
    raise AssertionError(f"no request for {route}")


@pytest.fixture
def world(
    runtime: ConnectionSettings, uid: str, worker_env: dict[str, str], tmp_path: Path
) -> Iterator[World]:
    conn = runtime.model_copy(update={"policy_topic": worker_env["GOVBUS_POLICY_TOPIC"]})
    login = CitizenLogin(tmp_path)
    settings = GatewaySettings(
        rate_limit_per_minute=100_000,
        client_rate_per_second=10_000,
        client_burst=10_000,
        citizen_assertion_keys=[login.public_key],
    )
    keys = KeyStore(runtime.pg, settings.api_key_pepper.get_secret_value().encode())
    keys.init()
    ensure_topics(conn.bootstrap, {delivery_topic(A): {}, SCHEMAS: {}}, partitions=1, replication=1)
    event = default_catalogue().latest("gov.health.birth_registered")
    assert event is not None
    producer = Producer({"bootstrap.servers": conn.bootstrap})
    fps = []
    for dept in (A, B):  # what each receives under a subscription of its own
        schema = projected_schema(event, {"sex": "clear"}, f"m-{dept}-{uid}", dept)
        fp = AvroCodec().register(schema)
        key, value = schema_record(fp, schema)
        producer.produce(SCHEMAS, value, key)
        fps.append(fp.hex())
    assert producer.flush(30) == 0
    with Gateway(conn, settings) as gw, httpx.Client(base_url=gw.url, timeout=30) as http:
        yield World(http, keys, conn, uid, login, {}, *fps)


def caller_headers(w: World, caller: str, issued: dict[str, dict[str, str]]) -> dict[str, str]:
    if caller == "anonymous":
        return {}
    if caller not in issued:
        dept = department_of(caller, A, BUREAU)
        issued[caller] = {"X-API-Key": w.keys.issue(dept, [ROLE_OF[caller]])}
    return issued[caller]


def test_every_cell_of_the_access_matrix_against_the_real_gateway(world: World) -> None:
    issued: dict[str, dict[str, str]] = {}
    wrong = []
    for row, scope, caller, expected in cells():
        if " /console/" in row.route:
            continue  # a console page takes a session cookie: test_console.py logs in
        dept = department_of(caller, A, BUREAU)
        (method, path, kwargs), target_key = call_for(world, row, scope, dept)
        headers = caller_headers(world, caller, issued)
        if method == "STREAM":
            with world.http.stream("GET", path, headers=headers) as r:
                status, body = r.status_code, ""
                if status >= 400:
                    body = r.read().decode()[:200]
        else:
            r = world.http.request(method, path, headers=headers, **kwargs)
            status, body = r.status_code, r.text[:200]
        if status != expected:
            wrong.append(f"{row.route} [{scope}] as {caller}: {status} != {expected} {body}")
        if 200 <= status < 300 and target_key is not None:
            world.made.pop(target_key, None)  # used up: the next allowed call needs a new one
    assert not wrong, "\n".join(wrong)
    assert len(cells()) > 250


def test_each_listing_shows_only_what_its_caller_may_see(world: World) -> None:
    theirs = world.request(B, "gov.tax.tax_registered", {"credit_code": "clear"})
    ours = world.request(A, "gov.tax.tax_registered", {"credit_code": "clear"})
    asks_us = world.conditional_request(A)
    asks_them = world.conditional_request(B)
    a_admin = {"X-API-Key": world.keys.issue(A, ["auditor"])}  # read-only, same scope
    bureau = {"X-API-Key": world.keys.issue(BUREAU, ["auditor"])}

    def listed(headers: dict[str, str]) -> set[str]:
        r = world.http.get("/v1/admin/subscriptions", headers=headers)
        return {s["id"] for s in r.json()["subscriptions"]}

    mine = listed(a_admin)
    assert {ours, asks_us} <= mine
    assert not {theirs, asks_them} & mine
    assert {theirs, ours, asks_us, asks_them} <= listed(bureau)

    inbox = world.http.get("/v1/admin/approvals", headers=a_admin).json()["awaiting"]
    assert asks_us in {a["subscription"] for a in inbox}
    assert {a["provider"] for a in inbox} <= {A}
    everything = world.http.get("/v1/admin/approvals", headers=bureau).json()["awaiting"]
    assert {asks_us, asks_them} <= {a["subscription"] for a in everything}

    keys = world.http.get("/v1/admin/keys", headers=a_admin).json()["keys"]
    assert {k["department"] for k in keys} == {A}
    assert {
        k["department"] for k in world.http.get("/v1/admin/keys", headers=bureau).json()["keys"]
    } >= {A, B, BUREAU}
    assert all("key" not in k and "key_hash" not in k for k in keys)  # never the secrets

    # The auditor changes nothing.
    r = world.http.post(
        f"/v1/admin/subscriptions/{ours}/revoke", json={"reason": "audit"}, headers=a_admin
    )
    assert r.status_code == 403

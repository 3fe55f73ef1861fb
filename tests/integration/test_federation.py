"""Two provinces, two buses, each with its own Kafka (KRaft), Redis and PostgreSQL, federated
by the bridge -- on real brokers, through both gateways.

Province A's policy grants province B (a subscriber in A) some birth fields, masked, for
births whose mother's ID was issued in B. B's policy accepts exactly that from A and routes
it to its own departments, masked again. The bridge is killed mid-stream and restarted, and
A's gateway is restarted under it: B's departments still receive every event exactly once.
Both sides audit, and the traces link from A's publisher to B's departments: A's delivery
to B is one trace on both buses, each delivery a trace of its own.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import signal
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from govbus.adapters.federation_bridge import Bridge
from govbus.adapters.publisher import Publisher
from govbus.audit_log import read_audit
from govbus.config import ConnectionSettings, GatewaySettings, LocalRuntimeSettings, load
from govbus.dlq import read_dead_letters, redrive
from govbus.gateway.keystore import KeyStore
from govbus.kafka_admin import ensure_bus_topics
from govbus.masking import mask_citizen_id, mask_mobile
from govbus.schemas.catalogue import default_catalogue
from govbus.streams.reconcile import collect
from govbus_devtools.demo.crossprovince import PEER_IN_A
from govbus_devtools.demo.parts import running_gateway
from govbus_devtools.demo.sample_data import birth, citizen_id
from govbus_devtools.devenv.peer import PeerRuntime
from govbus_devtools.devenv.process import Managed
from govbus_devtools.devenv.worker import WorkerProcess
from tests.integration.helpers import APPROVAL, BIRTH, wait_until
from tests.integration.test_gateway import problem
from tests.keys import delivery_id

MOTHERS_FROM_B = 12
OTHERS = 6


@pytest.fixture(scope="module")
def province_b(runtime: ConnectionSettings) -> Iterator[PeerRuntime]:
    # The same runtime the demo's cross-province case uses (one set of ports for province B).
    peer = PeerRuntime.beside(load(LocalRuntimeSettings), PEER_IN_A)
    peer.up(fresh=True)
    ensure_bus_topics(peer.conn.bootstrap, default_catalogue(), [], replication=1)
    yield peer
    peer.down()


def agreement(uid: str) -> dict[str, Any]:
    """A's subscription for B; B holds the same text as its inbound agreement."""
    return {
        "id": f"xprov-{uid}",
        "subscriber": f"pb_{uid}",
        "event_types": [BIRTH],
        "fields": {
            "certificate_no": "clear",
            "baby_name": "clear",
            "birth_date": "clear",
            "mother_id": "clear",
            "guardian_phone": "mask",
        },
        "filter": {"field": "mother_id", "prefix": "32"},
        "legal_basis": "Inter-provincial agreement A-B on newborn household registration",
        "purpose": "newborn household registration in the parents' province",
        "approval": APPROVAL,
    }


def b_policy(uid: str) -> dict[str, Any]:
    return {
        "version": 1,
        "inbound": [{"peer": "province_a", "subscription": agreement(uid)}],
        "subscriptions": [
            {
                "id": f"b-hukou-{uid}",
                "subscriber": f"hukou_{uid}",
                "event_types": [BIRTH],
                "fields": {
                    "certificate_no": "clear",
                    "baby_name": "clear",
                    "mother_id": "mask",
                    "birth_date": "generalize.year",
                    "guardian_phone": "clear",
                    "weight_g": "clear",  # A does not send it
                },
                "legal_basis": "Household registration regulation",
                "purpose": "register the newborn",
                "approval": APPROVAL,
            }
        ],
    }


def pull_all(gateway: str, key: str, expected: int, timeout_s: float) -> list[dict[str, Any]]:
    """Every delivery to the key's department through its gateway, from the start."""
    events: list[dict[str, Any]] = []
    params: dict[str, Any] = {"from_time": "2020-01-01T00:00:00Z", "limit": 500, "wait": 1}
    deadline = time.monotonic() + timeout_s
    with httpx.Client(base_url=gateway, timeout=30) as http:
        while time.monotonic() < deadline:
            page = http.get("/v1/events", params=params, headers={"X-API-Key": key})
            page.raise_for_status()
            body = page.json()
            events += body["events"]
            params = {"cursor": body["cursor"], "limit": 500, "wait": 1}
            if len(events) >= expected and not body["events"]:
                time.sleep(2)  # would anything more (a duplicate) still arrive?
                page = http.get("/v1/events", params=params, headers={"X-API-Key": key})
                events += page.json()["events"]
                break
    return events


def spans_in(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@dataclass
class Buses:
    """Province A (the test runtime) and province B (its own runtime), each with a worker
    and a gateway; B's key at A's gateway, and a B department's key at B's gateway."""

    uid: str
    a: ConnectionSettings
    b: PeerRuntime
    gateway_a: str
    gateway_b: str
    key_at_a: str
    key_at_b: str
    span_files: dict[str, Path]
    settings: GatewaySettings

    def bridge_env(self, gateway_a: str | None = None) -> dict[str, str]:
        return {
            **self.b.env,
            "GOVBUS_PEER_NAME": "province_a",
            "GOVBUS_PEER_GATEWAY_URL": gateway_a or self.gateway_a,
            "GOVBUS_PEER_API_KEY": self.key_at_a,
            "GOVBUS_PEER_WAIT_S": "1",
            "GOVBUS_PEER_PULL_LIMIT": "3",  # small pages: a kill lands mid-stream
            "GOVBUS_OTEL_FILE": str(self.span_files["bridge"]),
        }

    def publish(
        self, count_from_b: int, others: int
    ) -> tuple[dict[str, dict[str, Any]], list[str]]:
        """Births in A: those whose mother's ID was issued in B (by event id), and the ids
        of the others."""
        rng = random.Random()
        today = dt.date.today()
        to_b: dict[str, dict[str, Any]] = {}
        elsewhere: list[str] = []
        with Publisher("health", conn=self.a) as pub:
            for i in range(count_from_b + others):
                region = "320102" if i < count_from_b else "110101"
                mother = citizen_id(region, dt.date(1990, 1, 1 + i), rng.randrange(100, 999))
                data = {**birth(rng, today), "mother_id": mother}
                event_id = pub.publish(BIRTH, data).result(30).event_id
                if i < count_from_b:
                    to_b[event_id] = data
                else:
                    elsewhere.append(event_id)
        return to_b, elsewhere

    def relay(self, transport: httpx.BaseTransport | None = None) -> Bridge:
        """Run a bridge in this process until it has been idle for 8 s."""
        http = httpx.Client(
            base_url=self.gateway_a, transport=transport or httpx.HTTPTransport(), timeout=30
        )
        with Publisher("province_a", conn=self.b.conn) as publisher, http:
            bridge = Bridge(
                peer="province_a",
                peer_gateway=self.gateway_a,
                api_key=self.key_at_a,
                publisher=publisher,
                limit=50,
                wait_s=1,
                http=http,
            )
            bridge.run(threading.Event(), idle_exit_s=8)
        return bridge

    def relayed_id(self, event_id: str) -> str:
        """The event's id in B: A's delivery id for province B."""
        return delivery_id(f"pb_{self.uid}", "health", event_id)

    def id_in_b(self, event_id: str) -> str:
        """What B's department sees as the id of A's event."""
        return delivery_id(f"hukou_{self.uid}", "province_a/health", self.relayed_id(event_id))


@pytest.fixture(scope="module")
def buses(
    runtime: ConnectionSettings, province_b: PeerRuntime, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Buses]:
    uid = uuid.uuid4().hex[:10]
    tmp = tmp_path_factory.mktemp("federation")
    span_files = {n: tmp / f"spans-{n}.jsonl" for n in ("a", "bridge", "b")}
    a_policy = tmp / "policy-a.yaml"
    a_policy.write_text(yaml.safe_dump({"subscriptions": [agreement(uid)]}, allow_unicode=True))
    b_policy_file = tmp / "policy-b.yaml"
    b_policy_file.write_text(yaml.safe_dump(b_policy(uid), allow_unicode=True))

    def worker(state: Path, side: str, bootstrap: str, env: dict[str, str]) -> WorkerProcess:
        return WorkerProcess(
            state,
            f"streams-{side}-{uid}",
            env={
                **env,
                "GOVBUS_APP_ID": f"govbus-{side}-{uid}",
                "GOVBUS_WORKER_ID": f"{side}-{uid}",
                "GOVBUS_DATA_DIR": str(tmp / f"faust-{side}"),
                "GOVBUS_POLICY_TOPIC": f"govbus.policy.{side}-{uid}",
                "GOVBUS_POLICY_FILE": str(a_policy if side == "a" else b_policy_file),
                "GOVBUS_OTEL_FILE": str(span_files[side]),
            },
            bootstrap=bootstrap,
        )

    workers = [
        worker(load(LocalRuntimeSettings).state_dir, "a", runtime.bootstrap, {}),
        worker(province_b.local.state_dir, "b", province_b.conn.bootstrap, province_b.env),
    ]
    settings = load(GatewaySettings)
    pepper = settings.api_key_pepper.get_secret_value().encode()
    keys_a, keys_b = KeyStore(runtime.pg, pepper), KeyStore(province_b.conn.pg, pepper)
    keys_a.init()
    keys_b.init()
    try:
        for w in workers:
            w.start(timeout_s=120)
        with (
            running_gateway(runtime, settings) as gateway_a,
            running_gateway(province_b.conn, settings) as gateway_b,
        ):
            yield Buses(
                uid,
                runtime,
                province_b,
                gateway_a,
                gateway_b,
                keys_a.issue(f"pb_{uid}", ["subscriber"]),
                keys_b.issue(f"hukou_{uid}", ["subscriber"]),
                span_files,
                settings,
            )
    finally:
        for w in workers:
            w.stop()


BRIDGE = [sys.executable, "-m", "govbus.cli.main", "federation", "bridge"]


def test_an_event_from_a_reaches_the_right_subscriber_in_b(
    buses: Buses, exporter: InMemorySpanExporter
) -> None:
    uid = buses.uid
    bridge = Managed(f"bridge-{uid}", buses.b.local.state_dir)
    try:
        # The bridge talks to a gateway of A's that is restarted under it.
        with running_gateway(buses.a, buses.settings) as gateway_a:
            bridge.start(BRIDGE, env=buses.bridge_env(gateway_a))
            to_b, elsewhere = buses.publish(MOTHERS_FROM_B, OTHERS)
            # Kill the bridge as soon as something crossed, then restart it.
            assert wait_until(
                lambda: any(
                    s["name"].startswith("bridge from")
                    for s in spans_in(buses.span_files["bridge"])
                ),
                90,
            ), bridge.log_tail(30)
            bridge.stop(timeout_s=5, sig=signal.SIGKILL)
            bridge.start(BRIDGE, env=buses.bridge_env(gateway_a))
            time.sleep(1)
        # That gateway of A's is gone: the bridge retries; then it is pointed at another.
        bridge.stop(timeout_s=10)
        bridge.start(BRIDGE, env=buses.bridge_env())
        got = pull_all(buses.gateway_b, buses.key_at_b, len(to_b), timeout_s=120)
    finally:
        bridge.stop(timeout_s=10)

    # Exactly the events whose mother is registered in B, once each, masked twice over.
    by_id = {buses.id_in_b(e): data for e, data in to_b.items()}
    mine = [ev for ev in got if ev["id"] in by_id]
    assert sorted(ev["id"] for ev in mine) == sorted(by_id), bridge.log_tail(40)
    # Not the births of mothers from elsewhere. (A's worker, new here, also reads births
    # published by earlier tests and the demo; those with a Jiangsu mother cross too.)
    relayed_everything = {buses.relayed_id(e) for e in elsewhere}
    assert not relayed_everything & {r.delivery_id for r in read_audit(buses.a.bootstrap)}
    assert not {buses.id_in_b(e) for e in elsewhere} & {ev["id"] for ev in got}
    for event in mine:
        data = by_id[event["id"]]
        assert event["source"] == "province_a/health"
        assert event["data"] == {
            "certificate_no": data["certificate_no"],
            "baby_name": data["baby_name"],
            "mother_id": mask_citizen_id(data["mother_id"]),  # B's mask of A's clear ID
            "birth_date": str(data["birth_date"].year),  # B generalises
            "guardian_phone": mask_mobile(data["guardian_phone"]),  # as A masked it
        }

    # Audited on both sides: A delivered to province B and B read it through A's gateway;
    # B accepted each event once from province_a/health and delivered it to its department.
    relayed = {buses.relayed_id(e) for e in to_b}
    audit_a = read_audit(buses.a.bootstrap)
    assert relayed <= {
        r.delivery_id for r in audit_a if r.kind == "delivered" and r.subscriber == f"pb_{uid}"
    }
    assert relayed <= {
        r.delivery_id for r in audit_a if r.kind == "read" and r.subscriber == f"pb_{uid}"
    }
    audit_b = read_audit(buses.b.conn.bootstrap)
    accepted_b = [
        r.event_id
        for r in audit_b
        if r.kind == "accepted" and r.source == "province_a/health" and r.event_id in relayed
    ]
    assert sorted(accepted_b) == sorted(relayed)
    assert set(by_id) <= {
        r.delivery_id for r in audit_b if r.kind == "delivered" and r.subscriber == f"hukou_{uid}"
    }

    # Followed through span links: A's publish trace -> A's delivery to province B, one
    # trace on both buses (A's send, the bridge, B's intake) -> B's delivery to its
    # department, a trace of its own. No two parties share a trace id they did not make.
    event_id = next(iter(to_b))
    send = next(
        s
        for s in exporter.get_finished_spans()
        if s.name.startswith("send govbus.events.")
        and (s.attributes or {}).get("messaging.message.id") == event_id
    )
    spans = {where: spans_in(path) for where, path in buses.span_files.items()}

    def linked_from(where: str, name: str, process: dict[str, Any]) -> dict[str, Any]:
        link = {"trace_id": process["trace_id"], "span_id": process["span_id"]}
        return next(s for s in spans[where] if s["name"] == name and link in s["links"])

    def processing(where: str, trace_id: str) -> dict[str, Any]:
        return next(
            s
            for s in spans[where]
            if s["trace_id"] == trace_id and s["name"].startswith("process govbus.events.")
        )

    publish_trace = f"{send.context.trace_id:032x}"
    to_b_send = linked_from("a", f"send govbus.deliver.pb_{uid}", processing("a", publish_trace))
    to_b_trace = to_b_send["trace_id"]
    assert to_b_trace != publish_trace
    assert any(
        s["name"] == "bridge from province_a" and s["trace_id"] == to_b_trace
        for s in spans["bridge"]
    ), spans["bridge"]
    hukou_send = linked_from("b", f"send govbus.deliver.hukou_{uid}", processing("b", to_b_trace))
    assert hukou_send["trace_id"] not in (publish_trace, to_b_trace)
    # Both audits name the trace of the delivery to B.
    assert {
        r.trace_id
        for r in audit_a
        if r.kind == "delivered" and r.event_id == event_id and r.subscriber == f"pb_{uid}"
    } == {to_b_trace}
    assert {
        r.trace_id
        for r in audit_b
        if r.kind == "accepted" and r.event_id == buses.relayed_id(event_id)
    } == {to_b_trace}


class _AckFailsOnce(httpx.BaseTransport):
    """The real network, except that the first ack is lost: as if the bridge died after B's
    broker acknowledged a page and before A heard the ack."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.failed = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/ack") and not self.failed:
            self.failed = True
            raise httpx.ConnectError("ack lost", request=request)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def test_a_page_relayed_but_not_acked_is_read_again_and_counted_as_duplicates_in_b(
    buses: Buses,
) -> None:
    to_b, _ = buses.publish(3, 0)
    transport = _AckFailsOnce()
    bridge = buses.relay(transport)
    relayed = {buses.relayed_id(e) for e in to_b}
    assert transport.failed
    assert bridge.stats.errors == 1
    assert relayed <= set(bridge.stats.event_ids)
    # The unacknowledged page was read and published to B again...
    twice = {r for r in relayed if bridge.stats.event_ids.count(r) == 2}
    assert twice, bridge.stats
    got = pull_all(buses.gateway_b, buses.key_at_b, len(to_b), timeout_s=60)
    wanted = {buses.id_in_b(e) for e in to_b}
    assert sorted(ev["id"] for ev in got if ev["id"] in wanted) == sorted(wanted)

    def duplicates() -> list[str]:
        return [
            r.event_id
            for r in read_audit(buses.b.conn.bootstrap)
            if r.kind == "duplicate" and r.event_id in relayed
        ]

    # ...and B accepted each event once, counting the copies as duplicates.
    assert wait_until(lambda: sorted(duplicates()) == sorted(twice), 30), duplicates()


class _FirstEventCorrupted(httpx.BaseTransport):
    """The real network, except that the first event pulled arrives with its payload
    corrupted: what a broken proxy or a peer on a bad release could send."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.corrupted: dict[str, Any] | None = None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.method != "GET" or self.corrupted is not None:
            return response
        response.read()
        page = json.loads(response.content)
        if not page.get("events"):
            return response
        page["events"][0]["data_base64"] = "!!"
        self.corrupted = page["events"][0]
        return httpx.Response(response.status_code, json=page, request=request)

    def close(self) -> None:
        self.inner.close()


def test_an_event_the_bridge_cannot_relay_is_dead_lettered_in_b_and_reconciled_by_peer(
    buses: Buses,
) -> None:
    since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=2)
    to_b, _ = buses.publish(3, 0)
    transport = _FirstEventCorrupted()
    bridge = buses.relay(transport)
    assert transport.corrupted is not None
    assert bridge.stats.dead_lettered == 1
    # On B's DLQ whole, with the reason and the peer; the page was acked at A all the same.
    letters = [
        d
        for d in read_dead_letters(buses.b.conn.bootstrap, since=since)
        if d.value and json.loads(d.value).get("id") == transport.corrupted["id"]
    ]
    assert [(d.reason, d.peer) for d in letters] == [("federation.malformed", "province_a")]
    # B's reconcile accounts for every input and names what the bridge rejected, by peer.
    app_id = f"govbus-b-{buses.uid}"
    catalogue = default_catalogue()

    def settled() -> bool:
        return collect(buses.b.conn.bootstrap, catalogue, app_id, since).pending == 0

    assert wait_until(settled, 60)
    result = collect(buses.b.conn.bootstrap, catalogue, app_id, since)
    assert result.exact, result.gaps
    assert result.from_peers["province_a"] >= 1
    assert result.accepted + result.duplicates >= len(to_b) - 1


def test_an_admin_in_b_suspends_and_restores_the_inbound_agreement_and_nothing_is_lost(
    buses: Buses,
) -> None:
    """Through B's gateway: while B's inbound agreement with A is revoked, what A sends is
    dead-lettered in B with the reason; once restored, a redrive delivers it, once."""
    uid, sub_id = buses.uid, f"xprov-{buses.uid}"
    keys_b = KeyStore(buses.b.conn.pg, buses.settings.api_key_pepper.get_secret_value().encode())
    # Agreements between buses are the platform's: the bureau's admin, not a department's.
    admin = {"X-API-Key": keys_b.issue("data_bureau", ["admin"])}
    conn_b = buses.b.conn.model_copy(update={"policy_topic": f"govbus.policy.b-{uid}"})
    since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=2)
    inbound = f"/v1/admin/inbound/province_a/{sub_id}"
    with (
        running_gateway(conn_b, buses.settings) as gateway,
        httpx.Client(base_url=gateway, timeout=30) as http,
    ):
        listed = http.get("/v1/admin/inbound", headers=admin).json()["inbound"]
        assert [(a["peer"], a["subscription"]["id"]) for a in listed] == [("province_a", sub_id)]
        problem(
            http.get("/v1/admin/inbound", headers={"X-API-Key": buses.key_at_b}), 403, "forbidden"
        )
        department_admin = {"X-API-Key": keys_b.issue("health", ["admin"])}
        problem(
            http.post(f"{inbound}/revoke", json={"reason": "x" * 5}, headers=department_admin),
            403,
            "bureau-only",
        )
        problem(
            http.post(f"{inbound}-x/revoke", json={"reason": "suspended"}, headers=admin),
            404,
            "no-such-agreement",
        )
        r = http.post(f"{inbound}/revoke", json={"reason": "agreement suspended"}, headers=admin)
        assert r.status_code == 200, r.text
        assert r.json()["subscription"]["status"] == "revoked"
        time.sleep(3)  # B's worker follows its policy topic within seconds

        to_b, _ = buses.publish(2, 0)
        relayed = {buses.relayed_id(e) for e in to_b}
        assert relayed <= set(buses.relay().stats.event_ids)

        def refused() -> list[Any]:
            return [
                d
                for d in read_dead_letters(buses.b.conn.bootstrap, since=since)
                if d.event_id in relayed
            ]

        assert wait_until(lambda: len(refused()) == len(relayed), 60), refused()
        assert {d.reason for d in refused()} == {"federation.no_agreement"}
        wanted = {buses.id_in_b(e) for e in to_b}
        before = pull_all(buses.gateway_b, buses.key_at_b, 0, timeout_s=10)
        assert not wanted & {ev["id"] for ev in before}

        problem(
            http.put(
                inbound, json={**agreement(uid), "fields": {"shoe_size": "clear"}}, headers=admin
            ),
            422,
            "invalid-agreement",
        )
        problem(http.put(f"{inbound}-x", json=agreement(uid), headers=admin), 422, "id-mismatch")
        r = http.put(inbound, json=agreement(uid), headers=admin)
        assert r.status_code == 200, r.text  # replaced: it existed, revoked
        assert r.json()["subscription"].get("status", "active") == "active"
        time.sleep(3)
        assert redrive(buses.b.conn.bootstrap, refused()) == len(relayed)

    got = pull_all(buses.gateway_b, buses.key_at_b, len(before) + len(wanted), timeout_s=60)
    assert sorted(ev["id"] for ev in got if ev["id"] in wanted) == sorted(wanted)
    changes = [r.detail for r in read_audit(buses.b.conn.bootstrap) if r.kind == "policy"]
    assert any(
        d.startswith(f"inbound revoked inbound:province_a:{sub_id} by data_bureau") for d in changes
    )
    assert any(d.startswith(f"inbound replaced inbound:province_a:{sub_id}") for d in changes)


def test_b_s_broker_restarting_under_a_running_bridge_loses_and_repeats_nothing(
    buses: Buses,
) -> None:
    """The other side restarting: B's Kafka goes down while the bridge relays and A keeps
    publishing. The bridge holds the page it pulled until B's broker has stored it (for
    longer outages it retries from the last ack: see the lost-ack test), so nothing is acked
    at A that B did not store; once B is back, B's department has every event exactly
    once, and B's reconcile is exact."""
    uid = buses.uid
    since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=2)
    bridge = Managed(f"bridge-restart-{uid}", buses.b.local.state_dir)
    b_kafka = buses.b.runtime().kafka
    try:
        bridge.start(BRIDGE, env=buses.bridge_env())
        before, _ = buses.publish(4, 0)
        time.sleep(2)
        b_kafka.down()
        during, _ = buses.publish(4, 0)  # A does not depend on B: these wait at A
        time.sleep(6)  # the bridge fails to publish and backs off
        b_kafka.up()
        after, _ = buses.publish(4, 0)
        wanted = {buses.id_in_b(e) for e in {**before, **during, **after}}

        def everything_in_b() -> list[dict[str, Any]]:
            try:
                return pull_all(buses.gateway_b, buses.key_at_b, 0, timeout_s=10)
            except httpx.HTTPStatusError:  # B's gateway while its broker comes back
                return []

        got: list[dict[str, Any]] = []
        deadline = time.monotonic() + 150
        while not wanted <= {ev["id"] for ev in got} and time.monotonic() < deadline:
            got = everything_in_b()
    finally:
        bridge.stop(timeout_s=10)
    mine = sorted(ev["id"] for ev in got if ev["id"] in wanted)
    assert mine == sorted(wanted), bridge.log_tail(40)
    app_id = f"govbus-b-{uid}"

    def settled() -> bool:
        return collect(buses.b.conn.bootstrap, default_catalogue(), app_id, since).pending == 0

    assert wait_until(settled, 60)
    result = collect(buses.b.conn.bootstrap, default_catalogue(), app_id, since)
    assert result.exact, result.gaps

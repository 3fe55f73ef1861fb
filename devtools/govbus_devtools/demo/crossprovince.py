"""The demo's cross-province case (跨省通办): province B (Jiangsu) runs its own bus -- its own
Kafka, Redis and PostgreSQL, worker and gateway -- federated with this one (province A,
Beijing) by the bridge.

A's policy makes province_b a subscriber of births whose mother's ID was issued in Jiangsu;
B's policy holds the same subscription as its inbound agreement (built here from A's, one
text for both) and routes what arrives to B's own departments, masked again. Each B
department reads through B's gateway with its own key, as A's departments do at A.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from contextlib import ExitStack
from dataclasses import asdict
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import yaml

from govbus import telemetry
from govbus.adapters.federation_bridge import Bridge
from govbus.adapters.publisher import Publisher
from govbus.audit_log import read_audit
from govbus.config import GatewaySettings, LocalRuntimeSettings, load
from govbus.gateway.keystore import KeyStore
from govbus.kafka_admin import ensure_bus_topics
from govbus.policy import InboundAgreement, PolicyDocument, load_policy_file, subscribers
from govbus.schemas.audit import AuditRecord
from govbus.schemas.catalogue import Catalogue
from govbus.schemas.envelope import schema_fingerprint
from govbus_devtools.demo.parts import DepartmentReader, Keys, delivery_id, running_gateway
from govbus_devtools.demo.report import DeliverySeen, FieldSeen, ms_since
from govbus_devtools.devenv.peer import PeerRuntime
from govbus_devtools.devenv.worker import WorkerProcess

PEER_IN_A = "province_b"  # province B as a subscriber on A's bus
PEER_IN_B = "province_a"  # province A as B names it: events arrive from province_a/<dept>
WORKER_APP_ID_B = "govbus-demo-b"


def province_b_policy_path() -> Path:
    return Path(
        str(resources.files("govbus_devtools").joinpath("examples", "policy-province-b.yaml"))
    )


def province_b_policy(policy_a: PolicyDocument, catalogue: Catalogue) -> PolicyDocument:
    """B's own subscriptions, plus A's subscriptions for province_b as inbound agreements."""
    own = load_policy_file(province_b_policy_path(), catalogue)
    inbound = [
        InboundAgreement(peer=PEER_IN_B, subscription=s)
        for s in policy_a.subscriptions
        if s.subscriber == PEER_IN_A
    ]
    return own.model_copy(update={"inbound": inbound})


class ProvinceB:
    """Province B's bus for the length of the demo, and the bridge from A into it."""

    def __init__(
        self,
        progress: Any,
        policy_a: PolicyDocument,
        catalogue: Catalogue,
        *,
        gateway_a: str,
        key_at_a: str,
        since: dt.datetime,
        timeout_s: float,
    ) -> None:
        self.progress = progress
        self.policy = province_b_policy(policy_a, catalogue)
        self.catalogue = catalogue
        self.gateway_a = gateway_a
        self.key_at_a = key_at_a
        self.since = since
        self.timeout_s = timeout_s
        self.peer = PeerRuntime.beside(load(LocalRuntimeSettings), PEER_IN_A)
        self._stack = ExitStack()
        self._stop = threading.Event()
        self.bridge: Bridge | None = None
        self.readers: list[DepartmentReader] = []

    def __enter__(self) -> ProvinceB:
        try:
            self._start()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for reader in self.readers:
            reader.stop()
        self._stack.close()

    def _start(self) -> None:
        self.progress("province B: starting its own Kafka, Redis and PostgreSQL")
        self.peer.up()
        conn = self.peer.conn
        # Province B's runtime is a single local broker, whatever this one's replication.
        ensure_bus_topics(
            conn.bootstrap, self.catalogue, subscribers(self.policy), replication=1, grow=True
        )
        policy_file = self.peer.local.state_dir / "policy-province-b.yaml"
        policy_file.write_text(
            yaml.safe_dump(
                self.policy.model_dump(mode="json", by_alias=True, exclude_none=True),
                allow_unicode=True,
            )
        )
        self.progress("province B: starting its stream worker (its policy + the agreement)")
        worker = WorkerProcess(
            self.peer.local.state_dir,
            "streams-demo-b",
            env={
                **self.peer.env,
                "GOVBUS_POLICY_FILE": str(policy_file),
                "GOVBUS_APP_ID": WORKER_APP_ID_B,
            },
            bootstrap=conn.bootstrap,
        )
        worker.start()
        self._stack.callback(worker.stop)
        settings = load(GatewaySettings)
        self.keys = Keys(KeyStore(conn.pg, settings.api_key_pepper.get_secret_value().encode()))
        self.keys.store.init()
        self._stack.callback(self.keys.revoke_all)
        self.gateway_b = self._stack.enter_context(running_gateway(conn, settings))
        self.progress("province B: the bridge subscribes at A's gateway as province_b")
        publisher = self._stack.enter_context(Publisher(PEER_IN_B, conn=conn))
        self.bridge = self._stack.enter_context(
            Bridge(
                peer=PEER_IN_B,
                peer_gateway=self.gateway_a,
                api_key=self.key_at_a,
                publisher=publisher,
                wait_s=1.0,
            )
        )
        thread = threading.Thread(
            target=self.bridge.run, args=(self._stop,), name="govbus-demo-bridge", daemon=True
        )
        thread.start()
        self._stack.callback(thread.join, 15)
        self._stack.callback(self._stop.set)
        self.readers = [
            DepartmentReader(self.gateway_b, dept, self.keys.for_(dept, "subscriber"), self.since)
            for dept in subscribers(self.policy)
        ]
        for reader in self.readers:
            reader.start()

    # ------------------------------------------------------------------ outcome

    def follow(self, crossing: dict[str, tuple[str, float]]) -> dict[str, Any]:
        """``crossing``: A's event id -> (its demo step, when it was published), for the
        events A delivered to B.
        Waits for B's worker to decide each and B's departments to read it; returns what
        happened, for the report."""
        self.progress("province B: its departments read what came from A")
        relayed = {delivery_id(PEER_IN_A, "health", e): e for e in crossing}
        records = self._wait_for_b(set(relayed))
        for reader in self.readers:
            reader.expect(
                {
                    r.delivery_id
                    for r in records
                    if r.kind == "delivered" and r.subscriber == reader.department
                }
            )
        for reader in self.readers:
            reader.join(self.timeout_s)
        source = f"{PEER_IN_B}/health"
        events = []
        with httpx.Client(base_url=self.gateway_b, timeout=30) as http:
            for relayed_id, a_event in relayed.items():
                mine = [r for r in records if r.event_id == relayed_id]
                accepted = next((r for r in mine if r.kind == "accepted"), None)
                step, published_at = crossing[a_event]
                deliveries = [
                    self._seen(http, reader, (source, relayed_id), mine, published_at)
                    for reader in self.readers
                    if delivery_id(reader.department, source, relayed_id) in reader.received
                ]
                events.append(
                    {
                        "step": step,
                        "event_id_in_a": a_event,
                        "event_id_in_b": relayed_id,
                        "source_in_b": source,
                        "outcome_in_b": "delivered" if accepted else "missing",
                        "trace_id_in_b": accepted.trace_id if accepted else "",
                        "deliveries": deliveries,
                    }
                )
        stats = self.bridge.stats if self.bridge else None
        problems = [f"province B: {problem}" for r in self.readers for problem in r.problems()]
        return {
            "peer_in_a": PEER_IN_A,
            "peer_in_b": PEER_IN_B,
            "policy_b": str(province_b_policy_path()),
            "gateway_b": self.gateway_b,
            "bridge": {
                "relayed": stats.published if stats else 0,
                "retried_failures": stats.errors if stats else 0,
            },
            "events": events,
            "problems": problems,
        }

    def _wait_for_b(self, relayed: set[str]) -> list[AuditRecord]:
        deadline = time.monotonic() + self.timeout_s
        while True:
            records = [
                r
                for r in read_audit(self.peer.conn.bootstrap)
                if r.chain.startswith(WORKER_APP_ID_B + "|") and r.event_id in relayed
            ]
            decided = {r.event_id for r in records if r.kind in ("accepted", "dead_letter")}
            if decided >= relayed or time.monotonic() > deadline:
                return records
            time.sleep(0.5)

    @staticmethod
    def _seen(
        http: httpx.Client,
        reader: DepartmentReader,
        relayed: tuple[str, str],
        mine: list[AuditRecord],
        published_at: float,
    ) -> dict[str, Any]:
        """One B department's delivery of a relayed event (``relayed``: source, event id)."""
        wanted = delivery_id(reader.department, *relayed)
        delivery, read_at = reader.received[wanted]
        fingerprint = schema_fingerprint(str(delivery.dataschema))
        schema = http.get(f"/v1/schemas/{fingerprint}", headers={"X-API-Key": reader.key})
        schema.raise_for_status()
        rules = {f["name"]: f.get("govbus.mask", "") for f in schema.json()["fields"]}
        audit = next((r for r in mine if r.kind == "delivered" and r.delivery_id == wanted), None)
        return asdict(
            DeliverySeen(
                subscriber=reader.department,
                subscription=delivery.subscription or "",
                delivery_id=wanted,
                fields={
                    name: FieldSeen(rules.get(name, ""), v) for name, v in delivery.data.items()
                },
                legal_basis=audit.legal_basis if audit else "",
                purpose=audit.purpose if audit else "",
                delivered_ms=ms_since(audit.at, published_at) if audit else -1.0,
                read_ms=round((read_at - published_at) * 1000, 1),
                trace_id=telemetry.trace_id_of(delivery.traceparent),
            )
        )

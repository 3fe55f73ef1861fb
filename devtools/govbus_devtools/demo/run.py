"""Carry out the demo plan on the local runtime through the real adapters, read every delivery
back through the gateway as each department, try what must be refused, and report.

Nothing here decides who gets what: the worker does, under the policy. The run waits for the
worker's audit records to know when an event is done, then compares with what each
department actually read.
"""

from __future__ import annotations

import datetime as dt
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
from confluent_kafka import KafkaError, Producer
from confluent_kafka.admin import AdminClient

from govbus import telemetry
from govbus.adapters import outbox
from govbus.adapters.outbox_relay import OutboxRelay
from govbus.adapters.publisher import Publisher, partition_key
from govbus.audit_log import read_audit
from govbus.config import (
    ConnectionSettings,
    GatewaySettings,
    LocalRuntimeSettings,
    load,
)
from govbus.gateway.kafka_acl import read_as, set_password, sync
from govbus.gateway.keystore import KeyStore
from govbus.indexing import Indexes
from govbus.kafka_admin import ensure_bus_topics
from govbus.policy import PolicyDocument, load_policy_file
from govbus.schemas.audit import AuditRecord
from govbus.schemas.catalogue import default_catalogue
from govbus.schemas.codec import AvroCodec
from govbus.schemas.envelope import Envelope, schema_fingerprint, schema_ref
from govbus.schemas.jsonvalues import to_json
from govbus.schemas.topics import delivery_topic
from govbus_devtools.demo.civil_registry import DEATH, CivilRegistry
from govbus_devtools.demo.crossprovince import PEER_IN_A, ProvinceB
from govbus_devtools.demo.parts import (
    CitizenLogin,
    DepartmentReader,
    Keys,
    Seen,
    delivery_id,
    running_gateway,
)
from govbus_devtools.demo.report import (
    AccessCheck,
    DeliverySeen,
    DemoReport,
    EventOutcome,
    FieldSeen,
    ms_since,
)
from govbus_devtools.demo.sample_data import enterprise, licence_id, wrong_check_char
from govbus_devtools.demo.scenarios import Scenario, Step, plan, steps
from govbus_devtools.devenv.runtime import Runtime
from govbus_devtools.devenv.worker import WorkerProcess

WORKER_APP_ID = "govbus-demo"
Progress = Callable[[str], None]


def demo_policy_path() -> Path:
    return Path(str(resources.files("govbus_devtools").joinpath("examples", "policy-demo.yaml")))


@dataclass
class Published:
    step: Step
    event_id: str
    at: float  # wall clock (s) just before the publisher was asked
    corrects: str | None = None


class DemoRun:
    def __init__(self, progress: Progress, timeout_s: float = 90.0) -> None:
        self.progress = progress
        self.timeout_s = timeout_s
        self.conn = load(ConnectionSettings)
        self.policy_path = demo_policy_path()
        self.catalogue = default_catalogue()
        self.policy: PolicyDocument = load_policy_file(self.policy_path, self.catalogue)
        self.run_id = uuid.uuid4().hex[:8]

    # ------------------------------------------------------------------ the whole run

    def run(self) -> DemoReport:
        started = time.monotonic()
        started_at = dt.datetime.now(dt.UTC)
        self.progress("starting Kafka, Redis and PostgreSQL")
        Runtime().up()
        subscribers = sorted({s.subscriber for s in self.policy.subscriptions})
        # A development runtime made before event topics had GOVBUS_EVENT_PARTITIONS gets
        # them grown; no worker runs on it yet.
        ensure_bus_topics(self.conn.bootstrap, self.catalogue, subscribers, grow=True)
        self.progress("starting a stream worker with the demo policy")
        worker = WorkerProcess(
            load(LocalRuntimeSettings).state_dir,
            "streams-demo",
            env={"GOVBUS_POLICY_FILE": str(self.policy_path), "GOVBUS_APP_ID": WORKER_APP_ID},
            bootstrap=self.conn.bootstrap,
        )
        worker.start()
        login = CitizenLogin(load(LocalRuntimeSettings).state_dir)
        settings = load(GatewaySettings).model_copy(
            update={"citizen_assertion_keys": [login.public_key]}
        )
        keys = Keys(KeyStore(self.conn.pg, settings.api_key_pepper.get_secret_value().encode()))
        keys.store.init()
        try:
            self.progress("starting the gateway")
            with (
                running_gateway(self.conn, settings) as gateway,
                httpx.Client(base_url=gateway, timeout=30) as http,
            ):
                scenarios = plan(random.Random(), dt.date.today())  # noqa: S311 - sample data
                # Departments listen before anything is published, as they would in service.
                readers = [
                    DepartmentReader(
                        gateway,
                        dept,
                        keys.for_(dept, "subscriber"),
                        started_at,
                        ack=dept != PEER_IN_A,
                    )
                    for dept in sorted({s.subscriber for s in self.policy.subscriptions})
                ]
                for reader in readers:
                    reader.start()
                province_b = ProvinceB(
                    self.progress,
                    self.policy,
                    self.catalogue,
                    gateway_a=gateway,
                    key_at_a=keys.for_(PEER_IN_A, "subscriber"),
                    since=started_at,
                    timeout_s=self.timeout_s,
                )
                try:
                    with province_b:
                        setup_s = time.monotonic() - started
                        began = time.monotonic()
                        published = self._publish_all(scenarios, http, keys)
                        records = self._wait_for_outcomes(published)
                        seen = self._collect(http, readers, published, records)
                        federation = province_b.follow(self._crossing(published, records))
                finally:
                    for reader in readers:
                        reader.stop()
                problems = [problem for r in readers for problem in r.problems()]
                problems += federation.pop("problems")
                problems += [
                    f"{r.department} did not read everything within {self.timeout_s:.0f}s"
                    + (f" (last failure: {r.stats.last_error})" if r.stats.last_error else "")
                    for r in readers
                    if r.is_alive()
                ]
                events = [self._outcome(p, records, seen) for p in published]
                scenarios_s = time.monotonic() - began
                access = self._access_checks(http, keys)
                trust = self._trust(http, keys, login, published)
        finally:
            keys.revoke_all()
            worker.stop()
        return DemoReport(
            started_at=started_at.isoformat(),
            policy=str(self.policy_path),
            setup_s=round(setup_s, 2),
            scenarios_s=round(scenarios_s, 2),
            scenarios={sc.key: sc.title for sc in scenarios},
            events=events,
            access=access,
            trust=trust,
            federation=federation,
            problems=problems,
        )

    @staticmethod
    def _crossing(
        published: list[Published], records: list[AuditRecord]
    ) -> dict[str, tuple[str, float]]:
        """The events this bus delivered to province B: event id -> (step, published at)."""
        to_b = {r.event_id for r in records if r.kind == "delivered" and r.subscriber == PEER_IN_A}
        return {p.event_id: (p.step.key, p.at) for p in published if p.event_id in to_b}

    # ------------------------------------------------------------------ publishing

    def _publish_all(
        self, scenarios: list[Scenario], http: httpx.Client, keys: Keys
    ) -> list[Published]:
        registry = CivilRegistry(self.conn.pg)
        registry.init()
        relay = OutboxRelay(self.conn.pg, {}, table=outbox.DEFAULT_TABLE)
        sdk: dict[str, Publisher] = {}
        done: dict[str, Published] = {}
        try:
            for step in steps(scenarios):
                self.progress(f"{step.source} publishes: {step.title} ({step.channel})")
                corrects = done[step.corrects].event_id if step.corrects else None
                at = time.time()
                if step.channel == "outbox":
                    event_id = self._via_outbox(registry, relay, step)
                elif step.channel == "sdk":
                    pub = sdk.setdefault(step.source, Publisher(step.source))
                    result = pub.publish(
                        step.event_type, step.data, correlation_id=step.correlation_id
                    ).result(30)
                    event_id = result.event_id
                elif step.channel == "http":
                    event_id = self._via_http(http, keys, step)
                else:
                    event_id = self._via_legacy_producer(step)
                done[step.key] = Published(step, event_id, at, corrects)
        finally:
            for pub in sdk.values():
                pub.close()
            for pub in relay.publishers.values():
                pub.close()
        return list(done.values())

    def _via_outbox(self, registry: CivilRegistry, relay: OutboxRelay, step: Step) -> str:
        """The registry writes its own row and the outbox row in one transaction; the relay
        moves it to Kafka."""
        if step.corrects:
            event_id = registry.correct_death(
                step.data["certificate_no"], step.data, correlation_id=step.correlation_id
            )
        elif step.event_type == DEATH:
            event_id = registry.register_death(step.data, correlation_id=step.correlation_id)
        else:
            event_id = registry.register_birth(step.data, correlation_id=step.correlation_id)
        relay.run(once=True)
        return event_id

    def _via_http(self, http: httpx.Client, keys: Keys, step: Step) -> str:
        key = keys.for_(step.source, "publisher")
        idempotency_key = str(
            uuid.uuid5(uuid.NAMESPACE_URL, f"govbus-demo:{self.run_id}:{step.key}")
        )
        event_id = ""
        for _ in range(1 + step.retries):  # a retry with the same key is not a new event
            response = http.post(
                f"/v1/publish/{step.event_type}",
                json=to_json(step.data),
                headers={"X-API-Key": key, "Idempotency-Key": idempotency_key},
            )
            if response.status_code != 202:
                raise RuntimeError(f"publish {step.key}: {response.status_code} {response.text}")
            event_id = str(response.json()["id"])
        return event_id

    def _via_legacy_producer(self, step: Step) -> str:
        """What a department system that bypasses the SDK sends: a well-formed envelope and
        valid Avro, but nothing checked the ID number's check digit before the bus did."""
        event = self.catalogue.latest(step.event_type)
        if event is None:
            raise KeyError(step.event_type)
        codec = AvroCodec()
        fp = codec.register(event.schema)
        envelope = Envelope(
            id=str(uuid.uuid4()),
            source=step.source,
            type=event.type,
            version=event.version,
            subject="",  # the bus computes it
            time=dt.datetime.now(dt.UTC),
            dataschema=schema_ref(fp),
            correlation_id=step.correlation_id,
        )
        producer = Producer({"bootstrap.servers": self.conn.bootstrap, "acks": "all"})
        producer.produce(
            event.topic,
            codec.encode(fp, step.data),
            partition_key(event.subject_kind, str(step.data[event.subject_field])),
            headers=envelope.to_headers(),  # type: ignore[arg-type]
        )
        if producer.flush(30) != 0:
            raise RuntimeError("the legacy producer's event was not acknowledged")
        return envelope.id

    # ------------------------------------------------------------------ outcomes

    def _wait_for_outcomes(self, published: list[Published]) -> list[AuditRecord]:
        """The demo worker's audit records for this run's events, once each has an outcome."""
        wanted = {p.event_id: p.step.retries for p in published}
        deadline = time.monotonic() + self.timeout_s
        self.progress("waiting for the bus to decide every event")
        while True:
            records = [
                r
                for r in read_audit(self.conn.bootstrap)
                if r.chain.startswith(WORKER_APP_ID + "|") and r.event_id in wanted
            ]
            decided = {r.event_id for r in records if r.kind in ("accepted", "dead_letter")}
            duplicates = {
                e: sum(r.kind == "duplicate" and r.event_id == e for r in records) for e in wanted
            }
            if all(e in decided and duplicates[e] >= n for e, n in wanted.items()):
                return records
            if time.monotonic() > deadline:
                return records
            time.sleep(0.5)

    def _collect(
        self,
        http: httpx.Client,
        readers: list[DepartmentReader],
        published: list[Published],
        records: list[AuditRecord],
    ) -> dict[str, Seen]:
        """Wait until each department has read every delivery the worker audited for it (plus
        one more pull, so anything unexpected of this run shows too)."""
        self.progress("departments read their deliveries through the gateway")
        for reader in readers:
            reader.expect(
                {
                    r.delivery_id
                    for r in records
                    if r.kind == "delivered" and r.subscriber == reader.department
                }
            )
        for reader in readers:
            reader.join(self.timeout_s)
        seen: dict[str, Seen] = {}
        rules: dict[str, dict[str, str]] = {}
        for reader in readers:
            ours = {delivery_id(reader.department, p.step.source, p.event_id) for p in published}
            for event_id, (delivery, read_at) in reader.received.items():
                if event_id not in ours:
                    continue
                schema_fp = schema_fingerprint(str(delivery.dataschema))
                if schema_fp not in rules:
                    rules[schema_fp] = self._rules(http, reader.key, schema_fp)
                seen[event_id] = (delivery, read_at, rules[schema_fp])
        return seen

    @staticmethod
    def _rules(http: httpx.Client, key: str, fingerprint: str) -> dict[str, str]:
        schema = http.get(f"/v1/schemas/{fingerprint}", headers={"X-API-Key": key})
        schema.raise_for_status()
        return {f["name"]: f.get("govbus.mask", "") for f in schema.json()["fields"]}

    def _outcome(
        self,
        p: Published,
        records: list[AuditRecord],
        seen: dict[str, Seen],
    ) -> EventOutcome:
        mine = [r for r in records if r.event_id == p.event_id]
        first = next((r for r in mine if r.kind in ("accepted", "dead_letter")), None)
        outcome = (
            "missing"
            if first is None
            else ("dead_letter" if first.kind == "dead_letter" else "delivered")
        )
        audited = {r.delivery_id: r for r in mine if r.kind == "delivered"}
        deliveries = []
        for dept in sorted({s.subscriber for s in self.policy.subscriptions}):
            wanted = delivery_id(dept, p.step.source, p.event_id)
            if wanted not in seen:
                continue
            delivery, read_at, rules = seen[wanted]
            audit = audited.get(wanted)
            deliveries.append(
                DeliverySeen(
                    subscriber=dept,
                    subscription=delivery.subscription or "",
                    delivery_id=wanted,
                    fields={
                        name: FieldSeen(rules.get(name, ""), value)
                        for name, value in delivery.data.items()
                    },
                    legal_basis=audit.legal_basis if audit else "",
                    purpose=audit.purpose if audit else "",
                    delivered_ms=ms_since(audit.at, p.at) if audit else -1.0,
                    read_ms=round((read_at - p.at) * 1000, 1),
                    corrects=delivery.corrects,
                    trace_id=telemetry.trace_id_of(delivery.traceparent),
                )
            )
        return EventOutcome(
            step=p.step.key,
            scenario=p.step.scenario,
            title=p.step.title,
            channel=p.step.channel,
            source=p.step.source,
            type=p.step.event_type,
            event_id=p.event_id,
            correlation_id=p.step.correlation_id,
            published=to_json(p.step.data),
            expected=p.step.expect,
            outcome=outcome,
            reason=first.reason if first is not None and first.kind == "dead_letter" else "",
            corrects=p.corrects,
            duplicates=sum(r.kind == "duplicate" for r in mine),
            trace_id=first.trace_id if first is not None else "",
            deliveries=deliveries,
        )

    # ------------------------------------------------------------------ trust features

    def _trust(
        self, http: httpx.Client, keys: Keys, login: CitizenLogin, published: list[Published]
    ) -> dict[str, Any]:
        """Disclosure reports for the newborn (asked by the mother) and the deceased (asked
        with the deceased's ID), each through the citizen portal with the login service's
        assertion; licence checks by a relying department; corrections followed until their
        recipients acknowledge."""
        self.progress("indexing the audit trail for disclosure reports and licence checks")
        indexes = Indexes(self.conn.bootstrap, self.conn.pg)
        try:
            indexes.catch_up()
            by_step = {p.step.key: p for p in published}
            portal = {"X-API-Key": keys.for_("citizen_portal", "citizen_portal")}
            birth = by_step["newborn.birth"].step.data
            deceased = by_step["death.certified"].step.data["citizen_id"]
            people = {
                # The mother asks about her child under both of its identifiers.
                "newborn": (
                    str(birth["mother_id"]),
                    [
                        str(birth["certificate_no"]),
                        str(by_step["newborn.household"].step.data["citizen_id"]),
                    ],
                ),
                "deceased": (str(deceased), [str(deceased)]),
            }
            reports: dict[str, list[dict[str, Any]]] = {}
            for person, (citizen, identifiers) in people.items():
                reports[person] = []
                for identifier in identifiers:
                    answer = http.post(
                        "/v1/disclosures",
                        json={
                            "identifier": identifier,
                            "assertion": login.assertion(citizen, also=identifiers),
                        },
                        headers=portal,
                    )
                    answer.raise_for_status()
                    reports[person] += answer.json()["disclosures"]
            tax = {"X-API-Key": keys.for_("tax", "subscriber")}
            checks = []
            for key in ("licence.issued", "licence.food"):
                licence = by_step[key].step.data["licence_id"]
                checks.append(self._verify(http, tax, licence, key))
            unknown = licence_id("11100000", "110108", "999999999")
            checks.append(self._verify(http, tax, unknown, "never issued"))
            corrections = self._follow_corrections(http, keys, indexes, by_step["death.correction"])
        finally:
            indexes.close()
        return {"disclosures": reports, "licence_checks": checks, "corrections": corrections}

    @staticmethod
    def _verify(
        http: httpx.Client, headers: dict[str, str], licence: str, what: str
    ) -> dict[str, str]:
        answer = http.get(
            "/v1/licences/verify",
            params={"licence_id": licence, "purpose": "employer registration check"},
            headers=headers,
        )
        answer.raise_for_status()
        return {"licence": what, **answer.json()}

    def _follow_corrections(
        self, http: httpx.Client, keys: Keys, indexes: Indexes, correction: Published
    ) -> dict[str, Any]:
        """All recipients of the correction are pending; one acknowledges; the others stay."""
        now = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)

        def pending() -> list[str]:
            rows = indexes.disclosures.pending_amendments(dt.timedelta(0), now)
            return sorted(d.subscriber for d in rows if d.event_id == correction.event_id)

        before = pending()
        acked_by = "civil_affairs"
        own = delivery_id(acked_by, correction.step.source, correction.event_id)
        answer = http.post(
            "/v1/corrections/ack",
            json={"ids": [own]},
            headers={"X-API-Key": keys.for_(acked_by, "subscriber")},
        )
        answer.raise_for_status()
        deadline = time.monotonic() + 30
        after = pending()
        while after == before and time.monotonic() < deadline:
            time.sleep(0.5)
            indexes.catch_up(idle_steps=1)
            after = pending()
        return {
            "event_id": correction.event_id,
            "pending_before": before,
            "acknowledged_by": acked_by,
            "pending_after": after,
        }

    # ------------------------------------------------------------------ access checks

    def _access_checks(self, http: httpx.Client, keys: Keys) -> list[AccessCheck]:
        self.progress("trying what must be refused")
        # Kafka-native: tax has its own SCRAM user and ACLs from the policy.
        admin = AdminClient({"bootstrap.servers": self.conn.bootstrap})
        password = set_password(admin, "tax")
        sync(admin, self.policy, self.catalogue)
        sasl = f"127.0.0.1:{load(LocalRuntimeSettings).kafka_sasl_port}"
        checks = []
        for topic, expected in (
            (delivery_topic("public_security"), "refused"),
            (delivery_topic("tax"), "allowed"),
        ):
            status, detail = read_as(sasl, "tax", password, topic, timeout_s=30)
            checks.append(
                AccessCheck(
                    who="tax",
                    attempt=f"read {topic} with its own Kafka credentials",
                    expected=expected,
                    outcome={"ok": "allowed", "denied": "refused"}.get(status, status),
                    answer=f"Kafka {KafkaError(detail).name()}" if status == "denied" else status,
                )
            )
        publisher = {"X-API-Key": keys.for_("market_regulation", "publisher")}
        company = to_json(enterprise(random.Random(self.run_id)))  # noqa: S311 - sample data
        company["credit_code"] = wrong_check_char(company["credit_code"])
        attempts: list[tuple[str, str, Callable[[], httpx.Response]]] = [
            (
                "market_regulation",
                "publish gov.health.death_registered, owned by health",
                lambda: http.post(
                    "/v1/publish/gov.health.death_registered",
                    json={"certificate_no": "D1234567890"},
                    headers=publisher,
                ),
            ),
            (
                "market_regulation",
                "publish an enterprise whose credit code has a wrong check character",
                lambda: http.post(
                    "/v1/publish/gov.market_regulation.enterprise_registered",
                    json=company,
                    headers=publisher,
                ),
            ),
            ("anonymous", "pull deliveries without credentials", lambda: http.get("/v1/events")),
            (
                "public_security",
                "its admin issues an API key for health",
                lambda: http.post(
                    "/v1/admin/keys",
                    json={"department": "health", "roles": ["subscriber"]},
                    headers={"X-API-Key": keys.for_("public_security", "admin")},
                ),
            ),
        ]
        for who, what, call in attempts:
            response = call()
            problem = (
                response.json()
                if "problem+json" in response.headers.get("content-type", "")
                else {}
            )
            checks.append(
                AccessCheck(
                    who=who,
                    attempt=what,
                    expected="refused",
                    outcome="refused" if response.status_code in (401, 403, 422) else "allowed",
                    answer=f"HTTP {response.status_code} {problem.get('type', '')}".strip(),
                    detail=str(problem.get("detail", ""))[:200],
                )
            )
        return checks


def run_demo(progress: Progress = lambda _: None, timeout_s: float = 90.0) -> DemoReport:
    return DemoRun(progress, timeout_s).run()

"""The authority model tried as an insider would: one department's credentials and nothing
else, against the real gateway (uvicorn) on the real Kafka, Redis and PostgreSQL. Each test
is one weakness the model closes (docs/security.md, "Insider admin")."""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from govbus.adapters.publisher import Publisher
from govbus.audit_log import read_audit
from govbus.config import ConnectionSettings, GatewaySettings, KeySettings
from govbus.disclosures import DisclosureStore, subject_pseudonyms
from govbus.gateway.keystore import KeyStore
from govbus.pseudonym import Pseudonymizer
from govbus.schemas.audit import AuditRecord
from govbus.schemas.catalogue import default_catalogue
from govbus.schemas.identifiers import check_citizen_id
from govbus_devtools.demo.parts import CitizenLogin
from govbus_devtools.demo.sample_data import birth, citizen_id, death, household_cancelled
from tests.integration.helpers import birth_subscription, start_worker, wait_until
from tests.integration.test_gateway import ISSUER, Gateway, problem, rsa_key, token
from tests.keys import delivery_id

PEPPER = GatewaySettings().api_key_pepper.get_secret_value().encode()
__all__ = ["rsa_key"]  # a fixture shared with test_gateway


@pytest.fixture
def login(tmp_path: Path) -> CitizenLogin:
    return CitizenLogin(tmp_path)


@pytest.fixture
def conn(runtime: ConnectionSettings, worker_env: dict[str, str]) -> ConnectionSettings:
    return runtime.model_copy(update={"policy_topic": worker_env["GOVBUS_POLICY_TOPIC"]})


def settings_for(login: CitizenLogin, **over: Any) -> GatewaySettings:
    return GatewaySettings(
        rate_limit_per_minute=100_000,
        citizen_assertion_keys=[login.public_key],
        **over,
    )


@pytest.fixture
def keys(runtime: ConnectionSettings) -> KeyStore:
    store = KeyStore(runtime.pg, PEPPER)
    store.init()
    return store


def key_id(key: str) -> str:
    return key.split("_")[1]


# ----------------------------------------------------------------- weakness 1


def test_a_department_admin_acts_for_no_other_department(
    conn: ConnectionSettings, keys: KeyStore, login: CitizenLogin, uid: str
) -> None:
    """Public security's admin key, nothing else: it cannot mint a key for health (nor a
    role a department may not hold), revoke health's keys, or request, revoke or even see
    another department's subscriptions."""
    ps, other = f"ps_{uid}", f"mx_{uid}"
    attacker = {"X-API-Key": keys.issue(ps, ["admin"])}
    victim_key = keys.issue("health", ["subscriber"])
    other_admin = {"X-API-Key": keys.issue(other, ["admin"])}
    with Gateway(conn, settings_for(login)) as gw, httpx.Client(base_url=gw.url) as http:
        for roles in (["subscriber"], ["publisher", "admin"]):
            problem(
                http.post(
                    "/v1/admin/keys",
                    json={"department": "health", "roles": roles},
                    headers=attacker,
                ),
                403,
                "other-department",
            )
        problem(
            http.post(
                "/v1/admin/keys",
                json={"department": ps, "roles": ["citizen_portal"]},
                headers=attacker,
            ),
            403,
            "role-not-grantable",
        )
        own = http.post(
            "/v1/admin/keys", json={"department": ps, "roles": ["subscriber"]}, headers=attacker
        )
        assert own.status_code == 201, own.text
        problem(
            http.delete(f"/v1/admin/keys/{key_id(victim_key)}", headers=attacker),
            403,
            "other-department",
        )
        assert keys.is_active(key_id(victim_key))
        listed = http.get("/v1/admin/keys", headers=attacker).json()["keys"]
        assert {k["department"] for k in listed} == {ps}

        held = {
            "id": f"mx-{uid}",
            "subscriber": other,
            "event_types": ["gov.tax.tax_registered"],
            "fields": {"credit_code": "clear"},
            "legal_basis": "Tax Administration Law art. 15",
            "purpose": "register taxpayers",
        }
        assert (
            http.post(
                "/v1/admin/subscriptions", json=held, headers=other_admin, timeout=30
            ).status_code
            == 201
        )
        problem(
            http.post(
                "/v1/admin/subscriptions",
                json={**held, "id": f"mx2-{uid}"},
                headers=attacker,
                timeout=30,
            ),
            403,
            "other-department",
        )
        problem(
            http.post(
                f"/v1/admin/subscriptions/mx-{uid}/revoke",
                json={"reason": "sabotage"},
                headers=attacker,
                timeout=30,
            ),
            403,
            "other-department",
        )
        seen = http.get("/v1/admin/subscriptions", headers=attacker, timeout=30).json()
        assert f"mx-{uid}" not in {s["id"] for s in seen["subscriptions"]}
        theirs = http.get("/v1/admin/subscriptions", headers=other_admin, timeout=30).json()
        assert [s["status"] for s in theirs["subscriptions"] if s["id"] == f"mx-{uid}"] == [
            "active"
        ]
    records = [r.detail for r in read_audit(conn.bootstrap) if r.kind == "policy"]
    assert any(f"issued for {ps} by {ps}" in d for d in records)
    assert not any("issued for health by " + ps in d for d in records)


# ----------------------------------------------------------------- weakness 2


def test_one_provider_cannot_open_another_providers_conditional_type(
    conn: ConnectionSettings,
    keys: KeyStore,
    login: CitizenLogin,
    bootstrap: str,
    uid: str,
    state_dir: Path,
    worker_env: dict[str, str],
    tmp_path: Path,
) -> None:
    """A request for household_cancelled (public security's) + death_registered (health's),
    approved by public security alone, gets only the household data; death data flows only
    once health approved its own part. Nobody approves a request of their own department."""
    dept = f"hr_{uid}"
    requester = keys.issue(dept, ["admin", "subscriber"])
    ps_admin = {"X-API-Key": keys.issue("public_security", ["admin"])}
    health_admin = {"X-API-Key": keys.issue("health", ["admin"])}
    worker = start_worker(bootstrap, uid, state_dir, worker_env, tmp_path, [])
    rng, today = random.Random(uid), dt.date.today()
    sub_id = f"hr-{uid}"

    def publish_pair() -> tuple[str, str]:
        died = death(rng, today)
        with Publisher("health") as hc, Publisher("public_security") as ps:
            d = hc.publish("gov.health.death_registered", died).result(30).event_id
            h = (
                ps.publish(
                    "gov.public_security.household_cancelled", household_cancelled(died, today)
                )
                .result(30)
                .event_id
            )
        return delivery_id(dept, "health", d), delivery_id(dept, "public_security", h)

    try:
        with (
            Gateway(conn, settings_for(login)) as gw,
            httpx.Client(base_url=gw.url, timeout=30) as http,
        ):
            body = {
                "id": sub_id,
                "subscriber": dept,
                "event_types": [
                    "gov.public_security.household_cancelled",
                    "gov.health.death_registered",
                ],
                "fields": {"citizen_id": "clear", "date_of_death": "clear"},
                "legal_basis": "Social Insurance Law art. 17",
                "purpose": "stop the pension",
            }
            r = http.post("/v1/admin/subscriptions", json=body, headers={"X-API-Key": requester})
            assert r.status_code == 201, r.text
            assert r.json()["status"] == "pending"
            r = http.post(
                f"/v1/admin/subscriptions/{sub_id}/approve",
                json={"reason": "statutory duty", "reference": "PS-1"},
                headers=ps_admin,
            )
            assert r.status_code == 200, r.text
            assert r.json()["status"] == "active"  # live for public security's type only
            time.sleep(3)  # the worker follows the policy topic
            death_id, household_id = publish_pair()

            seen: set[str] = set()
            cursor: dict[str, str] = {"from_time": "2000-01-01T00:00:00Z"}

            def pulled() -> set[str]:
                """Everything delivered so far (paging on with the cursor)."""
                got = http.get(
                    "/v1/events",
                    params={"limit": 500, "wait": 1, **cursor},
                    headers={"X-API-Key": requester},
                )
                assert got.status_code == 200, got.text
                seen.update(e["id"] for e in got.json()["events"])
                cursor.clear()
                cursor["cursor"] = got.json()["cursor"]
                return seen

            assert wait_until(lambda: household_id in pulled(), 60)
            time.sleep(2)
            assert death_id not in pulled()
            # Health's part waits in health's inbox, with its deadline.
            inbox = http.get("/v1/admin/approvals", headers=health_admin).json()
            mine = [a for a in inbox["awaiting"] if a["subscription"] == sub_id]
            assert [a["provider"] for a in mine] == ["health"]
            assert mine[0]["overdue"] is False

            r = http.post(
                f"/v1/admin/subscriptions/{sub_id}/approve",
                json={"reason": "statutory duty", "reference": "HC-1"},
                headers=health_admin,
            )
            assert r.status_code == 200, r.text
            assert {a["provider"] for a in r.json()["approvals"]} == {"public_security", "health"}
            time.sleep(3)
            death_after, _ = publish_pair()
            assert wait_until(lambda: death_after in pulled(), 60)
            assert death_id not in pulled()  # what went before the approval stays undelivered
    finally:
        worker.stop()


def test_nobody_approves_a_request_of_their_own_department(
    conn: ConnectionSettings, keys: KeyStore, login: CitizenLogin, uid: str
) -> None:
    health_admin = {"X-API-Key": keys.issue("health", ["admin"])}
    bureau_admin = {"X-API-Key": keys.issue("data_bureau", ["admin"])}
    body = {
        "id": f"self-{uid}",
        "subscriber": "health",
        "event_types": ["gov.health.birth_registered"],
        "fields": {"certificate_no": "clear"},
        "legal_basis": "law",
        "purpose": "own use",
    }
    with (
        Gateway(conn, settings_for(login)) as gw,
        httpx.Client(base_url=gw.url, timeout=30) as http,
    ):
        problem(
            http.post("/v1/admin/subscriptions", json=body, headers=health_admin),
            403,
            "own-request",
        )
        other = {**body, "id": f"bb-{uid}", "subscriber": f"bb_{uid}"}
        requester = {"X-API-Key": keys.issue(f"bb_{uid}", ["admin"])}
        assert (
            http.post("/v1/admin/subscriptions", json=other, headers=requester).status_code == 201
        )
        # The requester cannot approve it (not the provider); the bureau cannot either.
        for who in (requester, bureau_admin):
            problem(
                http.post(
                    f"/v1/admin/subscriptions/bb-{uid}/approve",
                    json={"reason": "looks fine"},
                    headers=who,
                ),
                403,
                "not-provider",
            )


# ----------------------------------------------------------------- weakness 3


class ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def candidates(region: str, year: int, last4: str) -> list[str]:
    """Every valid citizen ID with this region, birth year and last four characters: what
    a masked ID (``110102********1377``) and a generalised birth year leave open."""
    out, day = [], dt.date(year, 1, 1)
    while day.year == year:
        first17 = f"{region}{day:%Y%m%d}{last4[:3]}"
        full = first17 + last4[3]
        if check_citizen_id(full) is None:
            out.append(full)
        day += dt.timedelta(days=1)
    return out


def test_the_disclosure_oracle_is_refused_and_identifiers_reach_no_log(
    conn: ConnectionSettings,
    keys: KeyStore,
    login: CitizenLogin,
    uid: str,
) -> None:
    """The attack: a department's admin holds a masked ID and a generalised birth year,
    enumerates the few valid candidates against the disclosure report, and reads off which
    one has deliveries (and who else holds that person's data). Every way the gateway
    offers answers every candidate alike; the genuine citizen, through the portal, gets the
    report, once per assertion; no candidate reaches the access log."""
    rng = random.Random(uid)
    # A person of this run only (the disclosure index outlives test sessions).
    born = dt.date(1938, 1, 1) + dt.timedelta(days=rng.randrange(365))
    true_id = citizen_id("110102", born, rng.randrange(1, 999))
    pool = candidates("110102", 1938, true_id[-4:])
    assert true_id in pool
    assert len(pool) > 10
    store = DisclosureStore(conn.pg)
    store.init()
    subject = subject_pseudonyms(Pseudonymizer(KeySettings()), default_catalogue(), true_id)[0]
    store.apply(
        [
            AuditRecord(
                kind="delivered",
                at=dt.datetime.now(dt.UTC).isoformat(),
                chain="test",
                seq=0,
                subscriber="hrss",
                delivery_id=f"{uid}-{rng.random()}",
                event_id=f"ev-{uid}",
                subject=subject,
                type="gov.health.death_registered",
                source="health",
                subscription="hrss-pension",
                fields={"citizen_id": "clear"},
                legal_basis="Social Insurance Law art. 17",
                purpose="stop the pension",
            )
        ]
    )
    attacker = {"X-API-Key": keys.issue(f"ps_{uid}", ["admin", "subscriber"])}
    portal = {"X-API-Key": keys.issue(f"portal_{uid}", ["citizen_portal"])}
    insider_id = citizen_id("110105", dt.date(1980, 1, 1), 2)
    settings = settings_for(login, disclosure_per_caller_per_minute=len(pool) + 5)
    access = ListHandler()
    with (
        Gateway(conn, settings, log_level="info") as gw,
        httpx.Client(base_url=gw.url, timeout=30) as http,
    ):
        # uvicorn's access logger does not propagate: listen on it directly.
        logging.getLogger("uvicorn.access").addHandler(access)
        answers = set()
        for candidate in pool:
            old = http.get(f"/v1/subjects/{candidate}/disclosures", headers=attacker)
            new = http.post(
                "/v1/disclosures",
                json={"identifier": candidate, "assertion": "x" * 40},
                headers=attacker,
            )
            # With the portal's own key, but the assertion of somebody else (an insider at
            # the portal logged in as themself).
            portal_try = http.post(
                "/v1/disclosures",
                json={"identifier": candidate, "assertion": login.assertion(insider_id)},
                headers=portal,
            )
            answers.add(
                (
                    old.status_code,
                    new.status_code,
                    new.json()["type"],
                    portal_try.status_code,
                    portal_try.json()["type"],
                )
            )
        assert answers == {
            (
                404,
                403,
                "https://govbus.example/problems/forbidden",
                403,
                "https://govbus.example/problems/not-asserted",
            )
        }, answers

        genuine = login.assertion(true_id)
        r = http.post(
            "/v1/disclosures", json={"identifier": true_id, "assertion": genuine}, headers=portal
        )
        assert r.status_code == 200, r.text
        (row,) = r.json()["disclosures"]
        assert row["recipient"] == "hrss"
        assert row["purpose"] == "stop the pension"
        assert not {"delivery_id", "event_id", "trace_id"} & set(row)
        problem(
            http.post(
                "/v1/disclosures",
                json={"identifier": true_id, "assertion": genuine},
                headers=portal,
            ),
            401,
            "assertion-replayed",
        )
        expired = login.assertion(true_id, ttl_s=-120)
        problem(
            http.post(
                "/v1/disclosures",
                json={"identifier": true_id, "assertion": expired},
                headers=portal,
            ),
            401,
            "invalid-assertion",
        )
    logging.getLogger("uvicorn.access").removeHandler(access)
    logged = "\n".join(r.getMessage() for r in access.records)
    assert "/v1/subjects/<redacted>/disclosures" in logged
    assert not any(c in logged for c in pool)
    viewed = [r.detail for r in read_audit(conn.bootstrap) if r.kind == "disclosure_viewed"]
    assert not any(true_id in d for d in viewed)


def test_reports_are_limited_per_subject(
    conn: ConnectionSettings, keys: KeyStore, login: CitizenLogin, uid: str
) -> None:
    person = citizen_id("110105", dt.date(1990, 2, 3), int(uid[:3], 16) % 499 * 2 + 1)
    portals = [{"X-API-Key": keys.issue(f"portal{i}_{uid}", ["citizen_portal"])} for i in (1, 2)]
    settings = settings_for(login, disclosure_per_subject_per_hour=3)
    with Gateway(conn, settings) as gw, httpx.Client(base_url=gw.url, timeout=30) as http:
        statuses = [
            http.post(
                "/v1/disclosures",
                json={"identifier": person, "assertion": login.assertion(person)},
                headers=portals[i % 2],  # two callers: the limit is the subject's
            ).status_code
            for i in range(5)
        ]
    assert statuses == [200, 200, 200, 429, 429]


# ----------------------------------------------------------------- weakness 4


class StreamReader(threading.Thread):
    """An SSE client: records each delivery id and the final govbus.error, if any."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        super().__init__(daemon=True)
        self.url, self.headers = url, headers
        self.ids: list[tuple[float, str]] = []
        self.ended: tuple[float, dict[str, Any]] | None = None
        self.closed_at: float | None = None

    def run(self) -> None:
        event = ""
        with httpx.stream("GET", self.url, headers=self.headers, timeout=120) as r:
            assert r.status_code == 200
            for line in r.iter_lines():
                if line.startswith("event:"):
                    event = line.split(":", 1)[1].strip()
                elif line.startswith("data:"):
                    data = json.loads(line.split(":", 1)[1])
                    if event == "govbus.error":
                        self.ended = (time.monotonic(), data)
                    else:
                        self.ids.append((time.monotonic(), data["id"]))
        self.closed_at = time.monotonic()


@pytest.fixture
def streaming(
    conn: ConnectionSettings,
    bootstrap: str,
    uid: str,
    state_dir: Path,
    worker_env: dict[str, str],
    tmp_path: Path,
    login: CitizenLogin,
    rsa_key: tuple[Any, Path],
) -> Iterator[Gateway]:
    # From the event topics' ends: a department that received the runtime's whole history of
    # births while a test waits for "nothing new" would see old deliveries still arriving.
    worker = start_worker(
        bootstrap, uid, state_dir, worker_env, tmp_path, [birth_subscription(uid)], from_end=True
    )
    settings = settings_for(
        login, jwt_public_keys=[rsa_key[1]], jwt_issuer=ISSUER, stream_recheck_s=1.0
    )
    try:
        with Gateway(conn, settings) as gw:
            yield gw
    finally:
        worker.stop()


def publish_births(n: int, seed: str) -> list[str]:
    rng = random.Random(seed)
    with Publisher("health") as pub:
        return [
            pub.publish("gov.health.birth_registered", birth(rng, dt.date.today()))
            .result(30)
            .event_id
            for _ in range(n)
        ]


def test_a_revoked_key_ends_its_open_stream_and_nothing_after_the_revocation_reaches_it(
    streaming: Gateway, keys: KeyStore, uid: str
) -> None:
    dept = f"ps_{uid}"
    key = keys.issue(dept, ["subscriber"])
    admin = {"X-API-Key": keys.issue(dept, ["admin"])}
    reader = StreamReader(f"{streaming.url}/v1/events/stream", {"X-API-Key": key})
    reader.start()
    before = {delivery_id(dept, "health", e) for e in publish_births(2, f"{uid}-before")}
    assert wait_until(lambda: before <= {i for _, i in reader.ids}, 90)
    r = httpx.delete(f"{streaming.url}/v1/admin/keys/{key_id(key)}", headers=admin)
    assert r.status_code == 204
    revoked_at = time.monotonic()
    after = {delivery_id(dept, "health", e) for e in publish_births(3, f"{uid}-after")}
    reader.join(timeout=30)
    assert reader.ended is not None, "the stream did not end"
    assert reader.ended[1]["type"] == "credential-revoked"
    assert reader.ended[0] - revoked_at < 5
    assert not after & {i for _, i in reader.ids}


def test_an_expired_token_ends_its_open_stream(
    streaming: Gateway, rsa_key: tuple[Any, Path], uid: str
) -> None:
    # Accepted at the start (within the 30 s clock-skew leeway), expired a few seconds on.
    bearer = token(rsa_key[0], sub=f"ps_{uid}", roles=["subscriber"], exp=int(time.time()) - 26)
    started = time.monotonic()
    reader = StreamReader(
        f"{streaming.url}/v1/events/stream", {"Authorization": f"Bearer {bearer}"}
    )
    reader.start()
    reader.join(timeout=30)
    assert reader.ended is not None
    assert reader.ended[1]["type"] == "credential-expired"
    assert reader.ended[0] - started < 15


# ----------------------------------------------------------------- weakness 8


def test_cheap_abuse_is_cheap_to_refuse(
    conn: ConnectionSettings, keys: KeyStore, login: CitizenLogin, uid: str
) -> None:
    publisher = keys.issue("health", ["publisher"])
    # A slow refill: on a loaded machine 60 requests may take seconds, and a fast one would
    # refill the bucket as quickly as they come.
    settings = settings_for(login, client_rate_per_second=2, client_burst=40)
    huge = "r" * 15_000
    with Gateway(conn, settings) as gw, httpx.Client(base_url=gw.url, timeout=30) as http:
        r = http.post(
            "/v1/publish/gov.health.birth_registered",
            json=json.loads(json.dumps(birth(random.Random(uid), dt.date.today()), default=str)),
            headers={"X-API-Key": publisher, "X-Request-ID": huge},
        )
        assert r.status_code == 202, r.text
        replaced = r.headers["X-Request-ID"]
        assert replaced != huge
        assert len(replaced) <= 64
        event_id = r.json()["id"]
        assert wait_until(
            lambda: any(
                a.kind == "published" and a.delivery_id == event_id
                for a in read_audit(conn.bootstrap)
            ),
            30,
        )
        (record,) = [
            a
            for a in read_audit(conn.bootstrap)
            if a.kind == "published" and a.delivery_id == event_id
        ]
        assert replaced in record.detail
        assert huge not in record.detail
        assert len(record.detail) < 400
        ok = http.get("/healthz", headers={"X-Request-ID": "client-1.req_2"})
        assert ok.headers["X-Request-ID"] == "client-1.req_2"

        store = gw.app.state.services.keys
        before = store.lookups
        bad = f"gbk_{'0' * 12}_{'x' * 43}"
        time.sleep(2)  # a full bucket
        statuses = [
            http.get("/v1/events", headers={"X-API-Key": bad}).status_code for _ in range(60)
        ]
        assert statuses.count(401) >= 30, statuses
        assert statuses.count(429) >= 10, statuses
        assert store.lookups - before == 1  # refused keys are refused from memory
        limited = http.get("/v1/events", headers={"X-API-Key": bad})
        problem(limited, 429, "client-rate-limited")
        assert int(limited.headers["Retry-After"]) >= 1

"""Races and long waits an insider (or plain bad luck) can use, against the real gateway
(uvicorn) on the real Kafka, Redis and PostgreSQL: concurrent admin writes to one
subscription (none is lost), a long-poll that outlives its credential, schemas of other
departments' deliveries."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from govbus.config import ConnectionSettings
from govbus.gateway.keystore import KeyStore
from govbus_devtools.demo.parts import CitizenLogin
from tests.integration.helpers import wait_until
from tests.integration.test_gateway import Gateway, problem, token
from tests.integration.test_insider import (
    PEPPER,
    key_id,
    publish_births,
    rsa_key,
    settings_for,
    streaming,
)
from tests.keys import delivery_id

__all__ = ["login", "rsa_key", "streaming"]  # fixtures
ROUNDS = 8  # subscriptions raced at once in each test
HOUSEHOLD = "gov.public_security.household_cancelled"  # public security's, conditional
DEATH = "gov.health.death_registered"  # health's, conditional


@pytest.fixture
def login(tmp_path: Path) -> CitizenLogin:
    return CitizenLogin(tmp_path)


@pytest.fixture
def conn(runtime: ConnectionSettings, uid: str) -> ConnectionSettings:
    return runtime.model_copy(update={"policy_topic": f"govbus.policy.test-{uid}"})


@pytest.fixture
def keys(runtime: ConnectionSettings) -> KeyStore:
    store = KeyStore(runtime.pg, PEPPER)
    store.init()
    return store


def at_once(calls: list[Callable[[], httpx.Response]]) -> list[httpx.Response]:
    """Run every call in its own thread, released together."""
    start = threading.Barrier(len(calls))
    out: list[httpx.Response | None] = [None] * len(calls)

    def run(i: int) -> None:
        start.wait()
        out[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert all(r is not None for r in out)
    return [r for r in out if r is not None]


def request_both(http: httpx.Client, requester: dict[str, str], dept: str, sub_id: str) -> None:
    r = http.post(
        "/v1/admin/subscriptions",
        json={
            "id": sub_id,
            "subscriber": dept,
            "event_types": [HOUSEHOLD, DEATH],
            "fields": {"citizen_id": "clear", "date_of_death": "clear"},
            "legal_basis": "Social Insurance Law art. 17",
            "purpose": "stop the pension",
        },
        headers=requester,
    )
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "pending"


def stored(http: httpx.Client, who: dict[str, str]) -> dict[str, dict[str, Any]]:
    r = http.get("/v1/admin/subscriptions", headers=who)
    assert r.status_code == 200, r.text
    return {s["id"]: s for s in r.json()["subscriptions"]}


# ----------------------------------------------------------------- lost updates


def test_concurrent_approvals_of_one_request_are_all_kept(
    conn: ConnectionSettings, keys: KeyStore, login: CitizenLogin, uid: str
) -> None:
    """Public security and health approve their own parts of the same requests at the same
    moment: every approval lands (before, the second write overwrote the first)."""
    dept = f"hr_{uid}"
    requester = {"X-API-Key": keys.issue(dept, ["admin"])}
    ps = {"X-API-Key": keys.issue("public_security", ["admin"])}
    hc = {"X-API-Key": keys.issue("health", ["admin"])}
    ids = [f"hr-{uid}-{i}" for i in range(ROUNDS)]
    with (
        Gateway(conn, settings_for(login)) as gw,
        httpx.Client(base_url=gw.url, timeout=120) as http,
    ):
        for sub_id in ids:
            request_both(http, requester, dept, sub_id)
        calls = [
            (
                lambda s=sub_id, h=who: http.post(  # type: ignore[misc]
                    f"/v1/admin/subscriptions/{s}/approve",
                    json={"reason": "statutory duty", "reference": "R-1"},
                    headers=h,
                )
            )
            for sub_id in ids
            for who in (ps, hc)
        ]
        answers = at_once(calls)
        assert [r.status_code for r in answers] == [200] * len(calls), [r.text for r in answers]
        final = stored(http, requester)
    for sub_id in ids:
        providers = sorted(a["provider"] for a in final[sub_id]["approvals"])
        assert providers == ["health", "public_security"], (sub_id, final[sub_id])
        assert final[sub_id]["status"] == "active"


def test_a_revocation_racing_an_approval_is_never_lost(
    conn: ConnectionSettings, keys: KeyStore, login: CitizenLogin, uid: str
) -> None:
    """The requester revokes while a provider approves: the subscription ends revoked,
    always; the approval either landed before the revocation (200) or met the revoked
    subscription (409 not-pending)."""
    dept = f"hr_{uid}"
    requester = {"X-API-Key": keys.issue(dept, ["admin"])}
    hc = {"X-API-Key": keys.issue("health", ["admin"])}
    ids = [f"rv-{uid}-{i}" for i in range(ROUNDS)]
    with (
        Gateway(conn, settings_for(login)) as gw,
        httpx.Client(base_url=gw.url, timeout=120) as http,
    ):
        for sub_id in ids:
            request_both(http, requester, dept, sub_id)
        calls: list[Callable[[], httpx.Response]] = []
        for sub_id in ids:
            calls.append(
                lambda s=sub_id: http.post(  # type: ignore[misc]
                    f"/v1/admin/subscriptions/{s}/approve",
                    json={"reason": "statutory duty"},
                    headers=hc,
                )
            )
            calls.append(
                lambda s=sub_id: http.post(  # type: ignore[misc]
                    f"/v1/admin/subscriptions/{s}/revoke",
                    json={"reason": "purpose met"},
                    headers=requester,
                )
            )
        answers = at_once(calls)
        final = stored(http, requester)
    for i, sub_id in enumerate(ids):
        approved, revoked = answers[2 * i], answers[2 * i + 1]
        assert revoked.status_code == 200, revoked.text
        assert final[sub_id]["status"] == "revoked", final[sub_id]
        if approved.status_code == 200:
            assert [a["provider"] for a in final[sub_id]["approvals"]] == ["health"]
        else:
            problem(approved, 409, "not-pending")


def test_if_match_makes_a_write_conditional(
    conn: ConnectionSettings, keys: KeyStore, login: CitizenLogin, uid: str
) -> None:
    """A client that read a subscription writes only if nobody changed it since: a stale
    ETag gets 412, the current one succeeds and returns the next."""
    dept = f"hr_{uid}"
    requester = {"X-API-Key": keys.issue(dept, ["admin"])}
    ps = {"X-API-Key": keys.issue("public_security", ["admin"])}
    hc = {"X-API-Key": keys.issue("health", ["admin"])}
    sub_id = f"im-{uid}"
    with (
        Gateway(conn, settings_for(login)) as gw,
        httpx.Client(base_url=gw.url, timeout=60) as http,
    ):
        request_both(http, requester, dept, sub_id)
        seen = stored(http, hc)[sub_id]["etag"]
        r = http.post(
            f"/v1/admin/subscriptions/{sub_id}/approve",
            json={"reason": "statutory duty"},
            headers={**ps, "If-Match": seen},
        )
        assert r.status_code == 200, r.text
        assert r.headers["ETag"] == r.json()["etag"] != seen
        problem(
            http.post(
                f"/v1/admin/subscriptions/{sub_id}/approve",
                json={"reason": "statutory duty"},
                headers={**hc, "If-Match": seen},
            ),
            412,
            "precondition-failed",
        )
        fresh = stored(http, hc)[sub_id]["etag"]
        r = http.post(
            f"/v1/admin/subscriptions/{sub_id}/approve",
            json={"reason": "statutory duty"},
            headers={**hc, "If-Match": fresh},
        )
        assert r.status_code == 200, r.text
        assert sorted(a["provider"] for a in r.json()["approvals"]) == [
            "health",
            "public_security",
        ]


# ----------------------------------------------------------------- long-poll re-authorised


class LongPoll(threading.Thread):
    """One ``GET /v1/events?wait=`` in the background; records when it answered."""

    def __init__(self, url: str, headers: dict[str, str], params: dict[str, Any]) -> None:
        super().__init__(daemon=True)
        self.url, self.headers, self.params = url, headers, params
        self.started = threading.Event()
        self.response: httpx.Response | None = None
        self.answered_at = 0.0

    def run(self) -> None:
        self.started.set()
        self.response = httpx.get(self.url, headers=self.headers, params=self.params, timeout=90)
        self.answered_at = time.monotonic()


def caught_up(url: str, headers: dict[str, str], expected: set[str]) -> str:
    """Pull until every expected delivery was seen; the cursor after them."""
    seen: set[str] = set()
    params: dict[str, Any] = {"limit": 500, "from_time": "2000-01-01T00:00:00Z"}
    cursor = ""

    def more() -> bool:
        nonlocal cursor
        r = httpx.get(f"{url}/v1/events", headers=headers, params=params, timeout=30)
        assert r.status_code == 200, r.text
        seen.update(e["id"] for e in r.json()["events"])
        cursor = r.json()["cursor"]
        params.clear()
        params.update({"limit": 500, "cursor": cursor})
        return expected <= seen

    assert wait_until(more, 90)
    return cursor


def test_a_long_poll_ends_when_its_key_is_revoked_and_returns_nothing_after(
    streaming: Gateway, keys: KeyStore, uid: str
) -> None:
    """A pull waiting for new deliveries (wait=25) while its key is revoked answers 401
    within seconds -- before, it kept waiting and then handed out deliveries made after
    the revocation."""
    dept = f"ps_{uid}"
    key = {"X-API-Key": keys.issue(dept, ["subscriber"])}
    admin = {"X-API-Key": keys.issue(dept, ["admin"])}
    before = {delivery_id(dept, "health", e) for e in publish_births(2, f"{uid}-before")}
    cursor = caught_up(streaming.url, key, before)
    poll = LongPoll(f"{streaming.url}/v1/events", key, {"cursor": cursor, "wait": 25})
    poll.start()
    poll.started.wait(10)
    r = httpx.delete(f"{streaming.url}/v1/admin/keys/{key_id(key['X-API-Key'])}", headers=admin)
    assert r.status_code == 204
    revoked_at = time.monotonic()
    publish_births(3, f"{uid}-after")
    poll.join(60)
    assert poll.response is not None
    problem(poll.response, 401, "credential-revoked")
    assert poll.answered_at - revoked_at < 5


def test_a_long_poll_ends_when_its_token_expires(
    streaming: Gateway, keys: KeyStore, rsa_key: tuple[Any, Path], uid: str
) -> None:
    dept = f"ps_{uid}"
    before = {delivery_id(dept, "health", e) for e in publish_births(2, f"{uid}-before")}
    cursor = caught_up(streaming.url, {"X-API-Key": keys.issue(dept, ["subscriber"])}, before)
    # Accepted at the start (within the 30 s clock-skew leeway), expired a few seconds on.
    bearer = token(rsa_key[0], sub=dept, roles=["subscriber"], exp=int(time.time()) - 26)
    started = time.monotonic()
    r = httpx.get(
        f"{streaming.url}/v1/events",
        headers={"Authorization": f"Bearer {bearer}"},
        params={"cursor": cursor, "wait": 25},
        timeout=60,
    )
    problem(r, 401, "credential-expired")
    assert time.monotonic() - started < 15

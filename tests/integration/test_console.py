"""The console in a real browser against the real runtime: a department requests access with
a preview, the provider approves in its inbox, the first delivery shows up on the
department's page; a department cannot open another's pages; the bureau follows an event.
Playwright drives Debian's chromium (tests/integration/browser.py)."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from govbus.adapters.publisher import Publisher
from govbus.config import ConnectionSettings, GatewaySettings
from govbus.gateway.keystore import KeyStore
from govbus.indexing import Indexes
from govbus.masking import mask_name
from govbus_devtools.demo.parts import CitizenLogin
from govbus_devtools.demo.sample_data import birth
from tests.integration.browser import browser, screenshots_dir
from tests.integration.helpers import BIRTH, start_worker, wait_until
from tests.integration.test_gateway import Gateway

__all__ = ["browser"]  # the fixture, imported for pytest
BUREAU = "data_bureau"


class Console:
    """One person in one browser context, logged in with one API key."""

    def __init__(self, browser: Any, url: str, key: str) -> None:
        self.url = url
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.page.goto(f"{url}/console/")
        assert self.page.url.endswith("/console/login")
        self.page.fill("input[name=api_key]", key)
        self.page.click("button[type=submit]")
        assert self.page.url.endswith("/console/"), self.page.url

    def open(self, path: str) -> int:
        response = self.page.goto(f"{self.url}/console{path}")
        assert response is not None
        return int(response.status)

    def shot(self, name: str) -> None:
        where = screenshots_dir()
        if where is not None:
            where.mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(where / f"{name}.png"), full_page=True)

    def csrf(self) -> str:
        return str(self.page.locator("input[name=csrf]").first.input_value())

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def world(
    runtime: ConnectionSettings,
    bootstrap: str,
    uid: str,
    state_dir: Path,
    worker_env: dict[str, str],
    tmp_path: Path,
) -> Iterator[dict[str, Any]]:
    worker = start_worker(bootstrap, uid, state_dir, worker_env, tmp_path, [], from_end=True)
    login = CitizenLogin(tmp_path)
    conn = runtime.model_copy(update={"policy_topic": worker_env["GOVBUS_POLICY_TOPIC"]})
    settings = GatewaySettings(
        rate_limit_per_minute=10_000,
        disclosure_per_caller_per_minute=1000,
        disclosure_per_subject_per_hour=1000,
        citizen_assertion_keys=[login.public_key],
    )
    keys = KeyStore(runtime.pg, settings.api_key_pepper.get_secret_value().encode())
    keys.init()
    dept, third = f"ps_{uid}", f"tx_{uid}"
    issued = {
        "requester": keys.issue(dept, ["admin"]),
        "provider": keys.issue("health", ["admin"]),
        "third": keys.issue(third, ["admin"]),
        "bureau": keys.issue(BUREAU, ["admin"]),
        "portal": keys.issue("citizen_portal", ["citizen_portal"]),
    }
    try:
        with Gateway(conn, settings) as gw:
            yield {"gw": gw, "keys": issued, "dept": dept, "login": login, "conn": conn}
    finally:
        for key in issued.values():
            keys.revoke(key.split("_")[1])
        worker.stop()


def test_request_approve_first_delivery_isolation_and_trace(
    browser: Any, world: dict[str, Any], uid: str
) -> None:
    gw, keys, dept = world["gw"], world["keys"], world["dept"]
    sub_id = f"ps-console-{uid}"
    requester = Console(browser, gw.url, keys["requester"])
    provider = Console(browser, gw.url, keys["provider"])
    third = Console(browser, gw.url, keys["third"])
    bureau = Console(browser, gw.url, keys["bureau"])
    people = [requester, provider, third, bureau]
    try:
        # The catalogue, as any department sees it.
        assert requester.open("/catalogue") == 200
        assert requester.page.locator(f"a[href='/console/catalogue/{BIRTH}']").count() == 1
        requester.shot("catalogue")
        assert requester.open(f"/catalogue/{BIRTH}") == 200
        assert "conditional" in requester.page.inner_text("main")

        # The request, previewed for a sample event with this department's own masks.
        assert requester.open(f"/requests/new?event_type={BIRTH}") == 200
        page = requester.page
        page.select_option("select[name='rule.certificate_no']", "clear")
        page.select_option("select[name='rule.baby_name']", "mask")
        page.select_option("select[name='rule.mother_id']", "pseudonym")
        page.select_option("select[name='rule.birth_date']", "generalize.year_month")
        page.fill("input[name=id]", sub_id)
        page.fill("input[name=legal_basis]", "Household Registration Regulations art. 7")
        page.fill("input[name=purpose]", "register the newborn's household")
        page.click("button[value=preview]")
        sample = page.locator("tr[data-field=baby_name] td").nth(3).inner_text().strip()
        assert page.inner_text("[data-testid=received-baby_name]").startswith(mask_name(sample))
        assert page.inner_text("[data-testid=received-birth_date]").startswith("2026-11")
        assert page.inner_text("[data-testid=received-weight_g]").strip() == "—"
        requester.shot("request-preview")
        page.click("button[value=submit]")
        assert "/console/grants" in page.url
        assert page.inner_text(f"[data-testid=status-{sub_id}]") == "pending"

        # A department never approves its own request, even by forging the form.
        forged = page.request.post(
            f"{gw.url}/console/subscriptions/{sub_id}/approve",
            form={"csrf": requester.csrf(), "reason": "self-approval"},
        )
        assert forged.status == 403
        # A form without this session's CSRF token is refused before anything else.
        no_csrf = provider.page.request.post(
            f"{gw.url}/console/subscriptions/{sub_id}/approve",
            form={"csrf": "made-up", "reason": "statutory duty"},
        )
        assert no_csrf.status == 403
        assert "csrf" in no_csrf.text()

        # Another department sees neither the request nor the bureau's pages.
        assert third.open("/inbox") == 200
        assert third.page.locator(f"[data-subscription='{sub_id}']").count() == 0
        assert third.open("/grants") == 200
        assert sub_id not in third.page.inner_text("main")
        assert third.open("/ops") == 403
        assert third.open(f"/trace?event_id={uid}") == 403
        forged = third.page.request.post(
            f"{gw.url}/console/subscriptions/{sub_id}/revoke",
            form={"csrf": third.csrf(), "reason": "not ours"},
        )
        assert forged.status == 403
        assert requester.open("/ops") == 403
        third.shot("forbidden")

        # The provider approves in its inbox, within the working-day deadline.
        assert provider.open("/inbox") == 200
        card = provider.page.locator(f"[data-subscription='{sub_id}']")
        assert card.count() == 1
        assert "Due" in card.inner_text()
        provider.shot("inbox")
        card.locator("input[aria-label='approval reason']").fill("HC-2026-9 statutory duty")
        card.locator("button", has_text="Approve").click()
        assert "approved=" in provider.page.url
        assert provider.page.locator(f"[data-subscription='{sub_id}']").count() == 0

        # The health commission publishes a birth; the first delivery shows up.
        born = birth(random.Random(uid), dt.date.today())
        with Publisher("health") as pub:
            event_id = pub.publish(BIRTH, born).result(30).event_id

        def delivered() -> bool:
            requester.open("/grants")
            return requester.page.locator("[data-testid=deliveries]").count() == 1

        assert wait_until(delivered, 120, 2), "no delivery on the department's page"
        row = requester.page.locator("[data-testid=deliveries] tbody tr").first.inner_text()
        assert sub_id in row
        assert "baby_name:mask" in row
        assert "mother_id:pseudonym" in row
        assert requester.page.inner_text(f"[data-testid=status-{sub_id}]") == "active"
        requester.shot("grants")

        # The bureau follows the event: accepted, delivered with fields and masks.
        assert bureau.open("/ops") == 200
        bureau.shot("ops")

        # ...from the trace index (as `govbus index run` keeps it), not a scan of the audit.
        indexes = Indexes(world["conn"].bootstrap, world["conn"].pg)
        try:

            def traced() -> bool:
                indexes.catch_up(idle_steps=1)
                bureau.open(f"/trace?event_id={event_id}")
                return bureau.page.locator("[data-testid=trace] tr.step-delivered").count() >= 1

            assert wait_until(traced, 60, 2)
            trace = bureau.page.inner_text("[data-testid=trace]")
            assert "accepted" in trace
            assert dept in trace
            assert "baby_name:mask" in trace
            bureau.shot("trace")
            assert bureau.open("/trace?event_id=no-such-event") == 404

            # The mother asks the citizen portal who received her newborn's data.
            portal = Console(browser, gw.url, keys["portal"])
            people.append(portal)
            assert wait_until(
                lambda: (
                    indexes.catch_up(idle_steps=1) >= 0
                    and _report(portal, world["login"], born, "en")
                ),
                60,
                1,
            )
        finally:
            indexes.close()
        report = portal.page.inner_text("[data-testid=disclosures]")
        assert dept in report
        assert "partly hidden" in report  # the mask, in words
        portal.shot("citizen-en")
        assert _report(portal, world["login"], born, "zh")
        assert "部分遮盖" in portal.page.inner_text("[data-testid=disclosures]")
        portal.shot("citizen-zh")
        assert requester.open("/citizen") == 403  # only the citizen portal
    finally:
        for person in people:
            person.close()


def _report(portal: Console, login: CitizenLogin, born: dict[str, Any], lang: str) -> bool:
    """Ask for the disclosure report of the newborn's certificate, as its mother."""
    assert portal.open(f"/citizen?lang={lang}") == 200
    certificate = str(born["certificate_no"])
    portal.page.fill("input[name=identifier]", certificate)
    portal.page.fill(
        "input[name=assertion]", login.assertion(str(born["mother_id"]), also=[certificate])
    )
    portal.page.click("form.card button[type=submit]")
    return portal.page.locator("[data-testid=disclosures]").count() == 1


def test_login_refuses_a_bad_key_and_a_revoked_key_ends_the_session(
    browser: Any, world: dict[str, Any], runtime: ConnectionSettings
) -> None:
    gw = world["gw"]
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(f"{gw.url}/console/login")
        page.fill("input[name=api_key]", "gbk_000000000000_not-a-key")
        page.click("button[type=submit]")
        assert "not valid" in page.inner_text("[role=alert]")
        cookies = {c["name"]: c for c in context.cookies()}
        assert "govbus_console" not in cookies

        settings = GatewaySettings()
        store = KeyStore(runtime.pg, settings.api_key_pepper.get_secret_value().encode())
        key = store.issue(world["dept"], ["auditor"])
        page.fill("input[name=api_key]", key)
        page.click("button[type=submit]")
        session = {c["name"]: c for c in context.cookies()}["govbus_console"]
        assert session["httpOnly"]
        assert session["sameSite"] == "Strict"
        assert key not in session["value"]
        assert page.goto(f"{gw.url}/console/grants").status == 200  # type: ignore[union-attr]
        store.revoke(key.split("_")[1])
        page.goto(f"{gw.url}/console/grants")
        assert page.url.endswith("/console/login")
    finally:
        context.close()

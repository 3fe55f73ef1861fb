"""Redrive from the console's ops page, in a real browser against the real runtime: a worker
whose dedupe window is short dead-letters a birth that is older than it (``envelope.stale``:
a replay could not be ruled out); the bureau sees it on the ops page under its reason; the
window is put back (a worker with the default one), the bureau's admin clicks "Redrive" and
the event reaches its subscriber, which the trace view shows. A department's admin cannot
redrive (nor open the page), and the bureau's auditor sees the dead letters without the
button and is refused if it posts the form anyway."""

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
from govbus_devtools.demo.sample_data import birth
from tests.integration.browser import browser
from tests.integration.helpers import BIRTH, births_in_clear_to, read_all, start_worker, wait_until
from tests.integration.test_console import BUREAU, Console
from tests.integration.test_gateway import Gateway
from tests.keys import delivery_id

__all__ = ["browser"]  # the fixture, imported for pytest
STALE = "envelope.stale"
# The shortest dedupe window a worker takes: events older than 0.9 of it are dead-lettered.
SHORT_WINDOW_S = 3600


def delivered_to(bootstrap: str, dept: str, event_id: str, settle_s: float = 3.0) -> int:
    """How many deliveries of ``event_id`` the department's topic holds."""
    wanted = delivery_id(dept, "health", event_id)
    return sum(r.envelope.id == wanted for r in read_all(bootstrap, dept, settle_s))


@pytest.fixture
def keys(runtime: ConnectionSettings, uid: str) -> Iterator[dict[str, str]]:
    settings = GatewaySettings()
    store = KeyStore(runtime.pg, settings.api_key_pepper.get_secret_value().encode())
    store.init()
    issued = {
        "operator": store.issue(BUREAU, ["admin"]),
        "auditor": store.issue(BUREAU, ["auditor"]),
        "department": store.issue(f"ps_{uid}", ["admin"]),
    }
    yield issued
    for key in issued.values():
        store.revoke(key.split("_")[1])


# Two worker starts (up to two minutes each on a loaded machine) and the redriven event's way
# through the second: more than the suite's five minutes per test.
@pytest.mark.timeout(600)
def test_the_bureau_redrives_a_dead_letter_to_its_subscriber_and_a_department_cannot(
    browser: Any,
    runtime: ConnectionSettings,
    bootstrap: str,
    uid: str,
    state_dir: Path,
    worker_env: dict[str, str],
    tmp_path: Path,
    keys: dict[str, str],
) -> None:
    dept = f"ps_{uid}"
    policy = births_in_clear_to(uid, [dept])
    short = {"GOVBUS_DEDUPE_WINDOW_S": str(SHORT_WINDOW_S)}
    worker = start_worker(
        bootstrap, uid, state_dir, worker_env, tmp_path, policy, short, from_end=True
    )
    conn = runtime.model_copy(update={"policy_topic": worker_env["GOVBUS_POLICY_TOPIC"]})
    people: list[Console] = []
    try:
        with Gateway(conn, GatewaySettings(rate_limit_per_minute=10_000)) as gw:
            operator = Console(browser, gw.url, keys["operator"])
            auditor = Console(browser, gw.url, keys["auditor"])
            department = Console(browser, gw.url, keys["department"])
            people += [operator, auditor, department]

            # Two hours old: older than this worker's window, so it cannot prove it new.
            born = birth(random.Random(uid), dt.date.today())
            old = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
            with Publisher("health") as pub:
                event_id = pub.publish(BIRTH, born, time=old).result(30).event_id

            def listed() -> bool:
                assert operator.open("/ops") == 200
                return operator.page.locator(f"a[href$='event_id={event_id}']").count() == 1

            assert wait_until(listed, 120, 2), "the dead letter never showed on the ops page"
            row = operator.page.locator("[data-testid=dlq-reasons] tr", has_text=STALE)
            assert row.count() == 1
            operator.shot("ops-dead-letters")

            # The bureau's auditor sees the dead letters but is offered no redrive, and a
            # form posted anyway is refused; a department's admin has no ops page at all.
            assert auditor.open("/ops") == 200
            assert auditor.page.locator(f"a[href$='event_id={event_id}']").count() == 1
            assert auditor.page.locator("form[action$='/ops/redrive']").count() == 0
            assert department.open("/ops") == 403
            for person in (auditor, department):
                assert person.open("/grants") == 200  # a page with this session's CSRF token
                forged = person.page.request.post(
                    f"{gw.url}/console/ops/redrive", form={"csrf": person.csrf(), "reason": STALE}
                )
                assert forged.status == 403, forged.text()
            assert delivered_to(bootstrap, dept, event_id, settle_s=1) == 0

            # The cause fixed (the window as it should be), the bureau's admin redrives.
            worker.stop()
            worker = start_worker(bootstrap, uid, state_dir, worker_env, tmp_path, policy)
            assert operator.open("/ops") == 200
            row = operator.page.locator("[data-testid=dlq-reasons] tr", has_text=STALE)
            row.locator("button", has_text="Redrive").click()
            assert "redriven=" in operator.page.url
            status = operator.page.inner_text("[role=status]")
            assert f"({STALE}) sent back to their event topics" in status
            assert int(status.split()[0]) >= 1
            operator.shot("ops-redriven")

            indexes = Indexes(conn.bootstrap, conn.pg)  # the trace view's index

            def delivered() -> bool:
                indexes.catch_up(idle_steps=1)
                operator.open(f"/trace?event_id={event_id}")
                return operator.page.locator("[data-testid=trace] tr.step-delivered").count() >= 1

            try:
                assert wait_until(delivered, 180, 2), (
                    "the redriven event never reached its subscriber"
                )
            finally:
                indexes.close()
            trace = operator.page.inner_text("[data-testid=trace]")
            assert "dead_letter" in trace
            assert dept in trace
            assert delivered_to(bootstrap, dept, event_id) == 1
    finally:
        for person in people:
            person.close()
        worker.stop()

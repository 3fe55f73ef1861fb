"""A new event type joins the running bus without a release: a worker started with
GOVBUS_CATALOGUE_DIR creates the type's topic, validates, routes and delivers it; the
publisher SDK reads the same directory."""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from govbus.adapters.publisher import Publisher
from govbus.config import ConnectionSettings
from govbus.schemas.catalogue import default_catalogue
from govbus_devtools.demo.sample_data import credit_code
from tests.integration.helpers import APPROVAL, read, start_worker
from tests.keys import delivery_id
from tests.unit.schemas.test_catalogue_dir import NEW, new_type


@pytest.fixture
def catalogue_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    directory = tmp_path / "catalogue"
    directory.mkdir()
    (directory / f"{NEW}.v1.avsc").write_text(json.dumps(new_type()))
    monkeypatch.setenv("GOVBUS_CATALOGUE_DIR", str(directory))
    default_catalogue.cache_clear()
    yield directory
    default_catalogue.cache_clear()


def test_a_new_event_type_from_the_catalogue_dir_is_delivered(
    runtime: ConnectionSettings,
    bootstrap: str,
    uid: str,
    state_dir: Path,
    worker_env: dict[str, str],
    tmp_path: Path,
    catalogue_dir: Path,
) -> None:
    dept = f"hf_{uid}"
    subscription = {
        "id": f"hf-{uid}",
        "subscriber": dept,
        "event_types": [NEW],
        "fields": {"credit_code": "clear", "tax_authority": "clear"},
        "legal_basis": "law",
        "purpose": "open accounts",
        "approval": APPROVAL,
    }
    worker = start_worker(
        bootstrap,
        uid,
        state_dir,
        worker_env,
        tmp_path,
        [subscription],
        {"GOVBUS_CATALOGUE_DIR": str(catalogue_dir)},
    )
    try:
        data = {
            "credit_code": credit_code(random.Random(uid), "110108"),
            "tax_authority": "Haidian",
            "taxpayer_type": "GENERAL",
            "registered_on": dt.date(2026, 12, 1),
        }
        with Publisher("housing_fund") as pub:
            sent = pub.publish(NEW, data).result(60)
        assert sent.topic == "govbus.events.housing_fund.account_opened.v1"
        mine = delivery_id(dept, "housing_fund", sent.event_id)
        got = read(bootstrap, dept, {mine}, timeout_s=120)
        assert mine in got
        assert got[mine].record == {"credit_code": data["credit_code"], "tax_authority": "Haidian"}
    finally:
        worker.stop()

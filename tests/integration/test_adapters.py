"""Ways in on the real runtime: the PostgreSQL outbox relay (crash, parallel relays, Kafka
restart) and the batch loader (rejects with line numbers, resumable re-runs)."""

from __future__ import annotations

import csv
import datetime as dt
import json
import random
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from confluent_kafka.admin import AdminClient

from govbus.adapters import outbox
from govbus.adapters.batch_loader import BatchLoader
from govbus.adapters.outbox_relay import OutboxRelay, pending_counts
from govbus.adapters.publisher import Publisher, PublishError
from govbus.audit_log import read_audit
from govbus.config import ConnectionSettings
from govbus.kafka_read import read_to_end
from govbus_devtools.demo.civil_registry import CivilRegistry
from govbus_devtools.demo.sample_data import birth
from govbus_devtools.devenv.process import Managed
from govbus_devtools.devenv.runtime import Runtime
from tests.corpus import X_ID, full_width, non_canonical_forms
from tests.integration.helpers import (
    birth_subscription,
    read,
    read_all,
    start_worker,
    wait_until,
)
from tests.keys import delivery_id

BIRTH = "gov.health.birth_registered"
TOPIC = "govbus.events.health.birth_registered.v2"


@pytest.fixture
def table(runtime: ConnectionSettings, uid: str) -> str:
    name = f"outbox_{uid}"
    outbox.init(runtime.pg, name)
    return name


@pytest.fixture
def worker(
    bootstrap: str, uid: str, state_dir: Path, worker_env: dict[str, str], tmp_path: Path
) -> Iterator[str]:
    proc = start_worker(bootstrap, uid, state_dir, worker_env, tmp_path, [birth_subscription(uid)])
    yield f"ps_{uid}"
    proc.stop()


def enqueue_births(dsn: str, table: str, n: int, seed: str) -> list[str]:
    rng = random.Random(seed)
    ids = []
    with psycopg.connect(dsn) as conn:
        for i in range(n):
            data = birth(rng, dt.date.today())
            with conn.transaction():  # the department's business transaction
                ids.append(
                    outbox.enqueue(
                        conn,
                        source="health",
                        aggregate_type="birth",
                        aggregate_id=f"{seed}-{i % 25}",
                        event_type=BIRTH,
                        data=data,
                        table=table,
                    )
                )
    return ids


def ids_on_topic(bootstrap: str, wanted: set[str]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for msg in read_to_end(bootstrap, TOPIC):
        event_id = dict(msg.headers() or []).get("ce_id", b"").decode()
        if event_id in wanted:
            counts[event_id] += 1
    return counts


def start_relay(state_dir: Path, name: str, dsn: str, table: str) -> Managed:
    relay = Managed(name, state_dir)
    relay.start(
        [
            sys.executable,
            "-m",
            "govbus.cli.main",
            "outbox",
            "relay",
            "--dsn",
            dsn,
            "--table",
            table,
            "--batch-size",
            "20",
        ]
    )
    return relay


def test_relay_killed_mid_batch_then_restarted_delivers_each_row_exactly_once(
    runtime: ConnectionSettings,
    bootstrap: str,
    uid: str,
    state_dir: Path,
    table: str,
    worker: str,
) -> None:
    ids = enqueue_births(runtime.pg, table, 400, uid)
    relay = start_relay(state_dir, f"relay-{uid}", runtime.pg, table)
    assert wait_until(lambda: pending_counts(runtime.pg, table).get("sent", 0) >= 60, 60, 0.1)
    relay.stop(timeout_s=5, sig=signal.SIGKILL)
    assert pending_counts(runtime.pg, table).get("pending", 0) > 0, "killed too late to matter"
    relay = start_relay(state_dir, f"relay-{uid}", runtime.pg, table)
    try:
        assert wait_until(lambda: pending_counts(runtime.pg, table) == {"sent": 400}, 120)
    finally:
        relay.stop()
    wanted = {delivery_id(worker, "health", e) for e in ids}
    assert len(read(bootstrap, worker, wanted, timeout_s=120)) == len(wanted)
    delivered = Counter(
        r.envelope.id for r in read_all(bootstrap, worker) if r.envelope.id in wanted
    )
    assert set(delivered) == wanted
    assert max(delivered.values()) == 1  # re-sent rows were counted as duplicates, not delivered
    on_topic = ids_on_topic(bootstrap, set(ids))
    assert set(on_topic) == set(ids)
    resent = sum(n - 1 for n in on_topic.values())
    duplicates = sum(
        1 for r in read_audit(bootstrap) if r.kind == "duplicate" and r.event_id in set(ids)
    )
    assert duplicates == resent


def test_two_relays_in_parallel_never_publish_a_row_twice(
    runtime: ConnectionSettings, bootstrap: str, uid: str, state_dir: Path, table: str
) -> None:
    ids = enqueue_births(runtime.pg, table, 300, uid)
    relays = [start_relay(state_dir, f"relay-{uid}-{n}", runtime.pg, table) for n in (1, 2)]
    try:
        assert wait_until(lambda: pending_counts(runtime.pg, table) == {"sent": 300}, 120)
    finally:
        for relay in relays:
            relay.stop()
    counts = ids_on_topic(bootstrap, set(ids))
    assert set(counts) == set(ids)
    assert max(counts.values()) == 1


def test_relay_waits_out_a_kafka_outage_and_loses_nothing(
    runtime: ConnectionSettings, bootstrap: str, uid: str, table: str
) -> None:
    rt = Runtime()
    first = enqueue_births(runtime.pg, table, 50, f"{uid}-a")
    relay = OutboxRelay(runtime.pg, {}, table=table, batch_size=20, ack_timeout_s=5)
    assert relay.relay_batch() > 0
    rt.kafka.down()
    try:
        later = enqueue_births(runtime.pg, table, 50, f"{uid}-b")
        with pytest.raises((TimeoutError, PublishError)):  # the batch rolls back
            relay.relay_batch()
        assert pending_counts(runtime.pg, table).get("pending", 0) > 0
    finally:
        rt.kafka.up()
    relay.run(once=True)
    for pub in relay.publishers.values():
        pub.close()
    assert pending_counts(runtime.pg, table) == {"sent": 100}
    counts = ids_on_topic(bootstrap, set(first + later))
    assert set(counts) == set(first + later)


def _wrong_check_digit(value: str) -> str:
    return value[:-1] + ("0" if value[-1] != "0" else "1")


@pytest.mark.parametrize(
    "bad",
    [_wrong_check_digit, lambda v: v + "\n", lambda v: v[:2] + full_width(v[2:17]) + v[17]],
    ids=["wrong-check-digit", "trailing-newline", "full-width-digits"],
)
def test_rejected_rows_are_marked_with_the_reason_not_dropped(
    runtime: ConnectionSettings, uid: str, table: str, bad: Callable[[str], str]
) -> None:
    data: dict[str, Any] = birth(random.Random(uid), dt.date.today())
    data["mother_id"] = bad(data["mother_id"])
    with psycopg.connect(runtime.pg) as conn, conn.transaction():
        outbox.enqueue(
            conn,
            source="health",
            aggregate_type="birth",
            aggregate_id="x",
            event_type=BIRTH,
            data=data,
            table=table,
        )
    relay = OutboxRelay(runtime.pg, {}, table=table)
    relay.run(once=True)
    with psycopg.connect(runtime.pg) as conn:
        status, error = conn.execute(f"SELECT status, error FROM {table}").fetchone()  # noqa: S608
    assert status == "rejected"
    assert error.startswith("identifier.citizen_id")
    assert data["mother_id"] not in error


def test_loader_rejects_bad_rows_with_line_numbers_and_a_rerun_publishes_nothing_new(
    bootstrap: str, uid: str, tmp_path: Path, worker: str
) -> None:
    rng = random.Random(uid)
    rows = [birth(rng, dt.date.today()) for _ in range(6)]
    rows[2]["mother_id"] = "110105199203141460"  # wrong check digit
    rows[4]["weight_g"] = "heavy"  # not an integer
    path = tmp_path / "births.csv"
    header = list(rows[0])
    lines = [",".join(header)] + [
        ",".join(str(r[h] if r[h] is not None else "") for h in header) for r in rows
    ]
    lines.insert(4, "this,line,is,broken")  # line 5: wrong cell count
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    with Publisher("health") as pub:
        report = BatchLoader(pub, BIRTH).load(path)
    assert (report.published, report.rejected) == (4, 3)
    rejects = [
        json.loads(x) for x in (tmp_path / "births.csv.rejects.jsonl").read_text().splitlines()
    ]
    assert [(r["line"], r["reason"]) for r in rejects] == [
        (4, "identifier.citizen_id"),
        (5, "file.parse"),
        (7, "field.type"),
    ]
    wanted = {delivery_id(worker, "health", e) for e in report.event_ids}
    assert len(read(bootstrap, worker, wanted)) == 4

    with Publisher("health") as pub:
        again = BatchLoader(pub, BIRTH).load(path)
    assert (again.published, again.skipped) == (0, 7)

    with Publisher("health") as pub:  # even ignoring the checkpoint: same ids, bus dedupes
        forced = BatchLoader(pub, BIRTH).load(path, restart=True)
    assert sorted(forced.event_ids) == sorted(report.event_ids)
    time.sleep(3)
    delivered = Counter(
        r.envelope.id for r in read_all(bootstrap, worker) if r.envelope.id in wanted
    )
    assert set(delivered) == wanted
    assert max(delivered.values()) == 1
    admin = AdminClient({"bootstrap.servers": bootstrap})
    assert TOPIC in admin.list_topics(timeout=10).topics


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_loader_rejects_identifiers_in_a_non_canonical_form(
    bootstrap: str, uid: str, tmp_path: Path, fmt: str
) -> None:
    """Surrounding spaces, a newline inside a value, digits of another script, a lower-case
    x: each such row is rejected with its line and reason, never published. (CSV keeps
    spaces and, quoted, newlines too.)"""
    rng = random.Random(uid + fmt)
    good = birth(rng, dt.date.today())
    forms = {**non_canonical_forms(good["mother_id"]), "lower-case-x": X_ID.lower()}
    rows = [good, *({**birth(rng, dt.date.today()), "mother_id": v} for v in forms.values())]
    path = tmp_path / f"births.{fmt}"
    if fmt == "jsonl":
        path.write_text(
            "".join(json.dumps(r, default=str, ensure_ascii=False) + "\n" for r in rows),
            encoding="utf-8",
        )
    else:
        with path.open("w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(good))
            writer.writeheader()
            writer.writerows(rows)
    with Publisher("health") as pub:
        report = BatchLoader(pub, BIRTH).load(path)
    assert (report.published, report.rejected) == (1, len(forms))
    rejects = [
        json.loads(x) for x in (tmp_path / f"births.{fmt}.rejects.jsonl").read_text().splitlines()
    ]
    first = 2 if fmt == "jsonl" else 3  # a CSV's line 1 is its header
    assert [r["reason"] for r in rejects] == ["identifier.citizen_id"] * len(forms)
    assert rejects[0]["line"] == first
    assert ids_on_topic(bootstrap, set(report.event_ids)) == Counter(report.event_ids)


def test_sample_registry_writes_the_birth_and_its_outbox_row_atomically(
    runtime: ConnectionSettings, uid: str
) -> None:
    registry = CivilRegistry(runtime.pg, prefix=f"reg_{uid}", outbox_table=f"outbox_{uid}")
    registry.init()
    data = birth(random.Random(uid), dt.date.today())
    registry.register_birth(data)
    with pytest.raises(psycopg.errors.UniqueViolation):  # same certificate again
        registry.register_birth(data)
    with psycopg.connect(runtime.pg) as conn:
        births = conn.execute(f"SELECT count(*) FROM reg_{uid}_births").fetchone()  # noqa: S608
        rows = conn.execute(f"SELECT count(*) FROM outbox_{uid}").fetchone()  # noqa: S608
    assert births == (1,)
    assert rows == (1,)  # the failed transaction left no outbox row behind

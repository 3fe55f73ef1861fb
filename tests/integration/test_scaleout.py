"""Scale-out under faults, on the real runtime: workers of one group share the tasks; a worker
frozen (SIGSTOP) past its session timeout and then woken, or workers added and removed while
events flow, never deliver an input twice and never lose one.

Each test ends with an exact reconciliation of what was published during it, and with a scan
of the whole history: every decision this worker group ever audited and every delivery on
its subscribers' topics, so a duplicate of an input older than the test shows too. The
group's fresh app id starts on the topics' whole history (every earlier test's events), so
the first worker is still catching up when the next one joins -- the case that used to
deliver twice.
"""

from __future__ import annotations

import datetime as dt
import functools
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

from govbus.audit_log import read_audit
from govbus.kafka_read import read_to_end
from govbus.schemas.envelope import header_dict
from govbus.schemas.topics import delivery_topic
from govbus.streams.reconcile import DECISIONS
from govbus_devtools.devenv.worker import WorkerProcess
from tests.integration.helpers import (
    Load,
    birth_subscription,
    reconciled,
    wait_until,
    write_policy,
)

SESSION_TIMEOUT_S = 6


def history_repeats(bootstrap: str, app_id: str, subscribers: list[str]) -> dict[str, int]:
    """Over all time: inputs this group decided more than once, and deliveries on each
    subscriber's topic more than once."""
    decisions = Counter(
        r.input
        for r in read_audit(bootstrap)
        if r.chain.startswith(f"{app_id}|") and r.kind in DECISIONS
    )
    out = {"decided_twice": sum(1 for n in decisions.values() if n > 1)}
    for subscriber in subscribers:
        ids = Counter(
            header_dict(m.headers()).get("ce_id", "")
            for m in read_to_end(bootstrap, delivery_topic(subscriber))
        )
        out[f"delivered_twice:{subscriber}"] = sum(1 for n in ids.values() if n > 1)
        out[f"deliveries:{subscriber}"] = sum(ids.values())
    return out


@functools.cache
def _admin(bootstrap: str) -> AdminClient:
    return AdminClient({"bootstrap.servers": bootstrap})


def members(bootstrap: str, group: str) -> int:
    """Members holding tasks once the group is stable; -1 while it rebalances."""
    admin = _admin(bootstrap)
    desc = admin.describe_consumer_groups([group])[group].result(timeout=10)
    if not str(desc.state).endswith("STABLE"):
        return -1
    return sum(1 for m in desc.members if m.assignment.topic_partitions)


@pytest.fixture
def group(
    bootstrap: str, uid: str, state_dir: Path, worker_env: dict[str, str], tmp_path: Path
) -> Iterator[tuple[Callable[[str], WorkerProcess], list[str]]]:
    subscribers = [f"ps_{uid}", f"mi_{uid}"]
    policy = write_policy(
        tmp_path / "policy.yaml",
        [
            {**birth_subscription(uid), "id": f"sub-{s}".replace("_", "-"), "subscriber": s}
            for s in subscribers
        ],
    )
    started: list[WorkerProcess] = []

    def start(name: str) -> WorkerProcess:
        worker = WorkerProcess(
            state_dir,
            f"streams-{uid}-{name}",
            bootstrap=bootstrap,
            env={
                **worker_env,
                "GOVBUS_WORKER_ID": f"{name}-{uid}",
                "GOVBUS_DATA_DIR": str(tmp_path / f"faust-{name}"),
                "GOVBUS_POLICY_FILE": str(policy),
                "GOVBUS_SESSION_TIMEOUT_S": str(SESSION_TIMEOUT_S),
            },
        )
        worker.start(timeout_s=120)
        started.append(worker)
        return worker

    yield start, subscribers
    for worker in started:
        worker.resume()
        worker.stop()


def _wait_members(bootstrap: str, app_id: str, n: int) -> None:
    assert wait_until(lambda: members(bootstrap, app_id) == n, timeout_s=90), (
        f"group {app_id} did not settle on {n} members"
    )


def _assert_exact(
    bootstrap: str, app_id: str, since: dt.datetime, acked: list[str], subscribers: list[str]
) -> None:
    result = reconciled(bootstrap, app_id, since, len(acked))
    assert result.gaps == []
    assert result.pending == 0
    assert result.inputs == result.accepted == len(acked)
    assert result.duplicates == result.dead_letters == 0
    assert result.by_subscriber == dict.fromkeys(subscribers, len(acked))
    repeats = history_repeats(bootstrap, app_id, subscribers)
    print(f"\n[measured] whole history: {repeats}")
    assert {k: v for k, v in repeats.items() if not k.startswith("deliveries:")} == {
        "decided_twice": 0,
        **{f"delivered_twice:{s}": 0 for s in subscribers},
    }


def test_a_worker_frozen_past_its_session_timeout_and_woken_commits_nothing_twice(
    bootstrap: str,
    worker_env: dict[str, str],
    group: tuple[Callable[[str], WorkerProcess], list[str]],
) -> None:
    start, subscribers = group
    app_id = worker_env["GOVBUS_APP_ID"]
    since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    load = Load(app_id, rate_per_s=150)
    load.start()
    frozen = start("a")
    other = start("b")
    _wait_members(bootstrap, app_id, 2)
    time.sleep(3)  # both busy: history and live events
    # Frozen mid-work, as by a long GC pause or a stopped VM; its tasks move to the other.
    assert frozen.pause()
    time.sleep(SESSION_TIMEOUT_S * 2.5)
    assert members(bootstrap, app_id) == 1, "the frozen worker should have lost its tasks"
    frozen.resume()  # wakes up holding whatever batch it was deciding or committing
    time.sleep(SESSION_TIMEOUT_S * 2)
    acked = load.finish()
    assert len(acked) > 500
    _assert_exact(bootstrap, app_id, since, acked, subscribers)
    print(
        "[measured] frozen worker after waking: "
        + "; ".join(
            line.split('"msg": ')[1][:80]
            for line in frozen.process.log_tail(400).splitlines()
            if "giving it up" in line or "tasks taken over" in line
        )
    )
    assert other.process.pid() is not None


def test_workers_added_and_removed_while_events_flow_deliver_each_input_once(
    bootstrap: str,
    worker_env: dict[str, str],
    group: tuple[Callable[[str], WorkerProcess], list[str]],
) -> None:
    start, subscribers = group
    app_id = worker_env["GOVBUS_APP_ID"]
    since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    load = Load(app_id, rate_per_s=150)
    load.start()
    first = start("a")
    time.sleep(2)  # the first is working through the topics' history ...
    second = start("b")  # ... when the second joins
    _wait_members(bootstrap, app_id, 2)
    third = start("c")
    _wait_members(bootstrap, app_id, 3)
    time.sleep(3)
    second.stop()  # removed cleanly (SIGTERM)
    _wait_members(bootstrap, app_id, 2)
    time.sleep(3)
    third.kill()  # removed hard (SIGKILL): its tasks move after the session timeout
    _wait_members(bootstrap, app_id, 1)
    time.sleep(3)
    acked = load.finish()
    assert len(acked) > 500
    _assert_exact(bootstrap, app_id, since, acked, subscribers)
    assert first.process.pid() is not None

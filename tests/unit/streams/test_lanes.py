"""Lanes: every event type has a real-time and a bulk topic; the worker treats both alike
(same checks, dedupe, routing, audit), with transactional ids and progress of each lane's
own, and the real-time lane first."""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import Future
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from govbus.adapters.publisher import EventEncoder
from govbus.kafka_admin import bus_topics
from govbus.schemas.catalogue import default_catalogue
from govbus.schemas.topics import (
    BULK,
    LANES,
    REALTIME,
    check_lane,
    event_topic,
    lane_of,
)
from govbus.streams.priority import Priority
from govbus.streams.sink import progress_key
from govbus.streams.tasks import transactional_id
from govbus_devtools.demo.sample_data import birth
from tests.unit.streams.test_pipeline import NOW, encoded_birth, make_pipeline

BIRTH = "gov.health.birth_registered"


def test_each_type_has_a_topic_per_lane_and_each_topic_names_its_lane() -> None:
    catalogue = default_catalogue()
    for event in catalogue:
        assert event.topic == event.lane_topic(REALTIME)
        assert [lane_of(t) for t in event.topics] == list(LANES)
    assert event_topic(BIRTH, 2, BULK) == "govbus.bulk.health.birth_registered.v2"
    assert event_topic(BIRTH, 2) == "govbus.events.health.birth_registered.v2"
    assert lane_of("govbus.deliver.tax") is None
    assert lane_of("govbus.audit") is None
    with pytest.raises(ValueError, match="invalid lane"):
        check_lane("express")


def test_bulk_topics_are_created_with_the_event_topics() -> None:
    wanted = bus_topics(default_catalogue(), [])
    for event in default_catalogue():
        assert set(event.topics) <= set(wanted)


@given(st.integers(0, 10_000), st.sampled_from(["govbus-streams", "a.b"]))
def test_transactional_ids_are_apart_per_lane_and_realtime_keeps_its_old_name(
    task: int, app: str
) -> None:
    assert transactional_id(app, task) == f"{app}.task-{task}"
    assert transactional_id(app, task, BULK) == f"{app}.bulk.task-{task}"
    assert len({transactional_id(app, task, lane) for lane in LANES}) == len(LANES)


def test_progress_markers_are_apart_per_lane() -> None:
    event = default_catalogue().latest(BIRTH)
    assert event is not None
    keys = {progress_key("app", (t, 3)) for t in event.topics}
    assert len(keys) == len(LANES)


def test_the_encoder_sends_to_its_lane() -> None:
    data = birth(random.Random(1), NOW.date())
    for lane in LANES:
        prepared = EventEncoder("health", default_catalogue(), lane=lane).prepare(BIRTH, data)
        assert lane_of(prepared.topic) == lane
    with pytest.raises(ValueError, match="invalid lane"):
        EventEncoder("health", default_catalogue(), lane="fast")  # type: ignore[arg-type]


def test_an_event_on_the_bulk_lane_is_decided_like_one_on_the_realtime_lane() -> None:
    outcomes = []
    for lane in LANES:
        pipe, _, _ = make_pipeline()
        msg, _, _ = encoded_birth(0)
        msg = replace(msg, topic=event_topic(BIRTH, 1, lane))
        plan = pipe.decide([msg], lambda p: p)
        outcomes.append(dict(plan.result.counts))
    assert outcomes[0] == outcomes[1]
    assert outcomes[0]["accepted"] == 1
    assert any(k.startswith("delivered:") for k in outcomes[0])


def test_an_event_on_another_types_bulk_topic_is_refused() -> None:
    pipe, _, _ = make_pipeline()
    msg, _, _ = encoded_birth(0)
    msg = replace(msg, topic=event_topic("gov.health.death_registered", 1, BULK))
    plan = pipe.decide([msg], lambda p: p)
    assert plan.result.counts["accepted"] == 0
    assert sum(plan.result.counts.values()) == 1


def test_priority_is_free_until_held_and_again_once_every_commit_is_done() -> None:
    priority = Priority(max_wait_s=0.05)
    assert priority.wait_free()
    commits: list[Future[None]] = [Future(), Future()]
    priority.hold()
    for commit in commits:
        priority.hold_until_done(commit)
    priority.release()
    commits[0].set_result(None)
    assert priority.held
    assert priority.wait_free() is False  # gave up waiting after the bound
    commits[1].set_exception(RuntimeError("aborted"))
    assert not priority.held
    assert priority.wait_free()


def test_a_lane_waiting_for_priority_goes_on_as_soon_as_it_is_released() -> None:
    priority = Priority(max_wait_s=30)
    priority.hold()
    waited: list[float] = []

    def wait() -> None:
        started = time.monotonic()
        assert priority.wait_free()
        waited.append(time.monotonic() - started)

    waiter = threading.Thread(target=wait)
    waiter.start()
    priority.release()
    waiter.join(timeout=30)
    assert len(waited) == 1
    assert waited[0] < 5

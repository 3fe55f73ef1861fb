"""The slice on the real runtime: SDK -> Kafka -> Faust worker -> delivery topics -> reader."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from govbus.adapters.publisher import Publisher, PublishError
from govbus.kafka_read import read_to_end
from govbus.masking import mask_citizen_id, mask_name
from govbus.schemas.envelope import Envelope
from govbus.schemas.models import BirthRegisteredV1, BirthRegisteredV2
from govbus.schemas.topics import DLQ, delivery_topic
from govbus_devtools.demo.sample_data import birth
from govbus_devtools.devenv.worker import WorkerProcess
from tests.integration.helpers import APPROVAL, read, write_policy
from tests.keys import delivery_id

BIRTH = "gov.health.birth_registered"


@pytest.fixture
def spine_worker(
    bootstrap: str, uid: str, state_dir: Path, worker_env: dict[str, str], tmp_path: Path
) -> Any:
    subs = {"clear": f"ps_{uid}", "masked": f"mi_{uid}"}
    policy = write_policy(
        tmp_path / "policy.yaml",
        [
            {
                "id": f"clear-{uid}",
                "subscriber": subs["clear"],
                "event_types": [BIRTH],
                "fields": {"baby_name": "clear", "mother_id": "clear", "birth_region": "clear"},
                "legal_basis": "Household Registration Regulations art. 7",
                "purpose": "register the newborn",
                "approval": APPROVAL,
            },
            {
                "id": f"masked-{uid}",
                "subscriber": subs["masked"],
                "event_types": [BIRTH],
                "fields": {
                    "baby_name": "mask",
                    "mother_id": "mask",
                    "birth_date": "generalize.year_month",
                },
                "legal_basis": "Social Insurance Law art. 25",
                "purpose": "prepare enrolment",
                "approval": APPROVAL,
            },
        ],
    )
    worker = WorkerProcess(
        state_dir,
        f"streams-{uid}",
        env={**worker_env, "GOVBUS_POLICY_FILE": str(policy)},
        bootstrap=bootstrap,
    )
    worker.start(timeout_s=120)
    yield subs
    worker.stop()


def test_birth_reaches_exactly_the_entitled_subscribers(
    bootstrap: str, uid: str, spine_worker: dict[str, str]
) -> None:
    data = birth(random.Random(uid), dt.date.today())
    with Publisher("health") as pub:
        result = pub.publish(BIRTH, data).result(timeout=30)

    clear_id = delivery_id(spine_worker["clear"], "health", result.event_id)
    got = read(bootstrap, spine_worker["clear"], {clear_id})
    assert clear_id in got, "the clear-grant subscriber received nothing"
    assert got[clear_id].record == {
        "baby_name": data["baby_name"],
        "mother_id": data["mother_id"],
        "birth_region": data["birth_region"],
    }

    masked_id = delivery_id(spine_worker["masked"], "health", result.event_id)
    got = read(bootstrap, spine_worker["masked"], {masked_id})
    assert masked_id in got, "the masked-grant subscriber received nothing"
    received = got[masked_id]
    assert received.record == {
        "baby_name": mask_name(data["baby_name"]),
        "mother_id": mask_citizen_id(data["mother_id"]),
        "birth_date": f"{data['birth_date']:%Y-%m}",
    }
    assert received.envelope.type == BIRTH
    assert received.envelope.source == "health"
    # No clear identifier anywhere in the delivered message's key or headers.
    assert data["mother_id"] not in received.envelope.subject

    # A department with no subscription has no delivery topic, so nothing reached it.
    topics = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10).topics
    assert delivery_topic(f"tax_{uid}") not in topics
    assert delivery_topic(spine_worker["clear"]) in topics


def test_invalid_events_are_refused_early_or_dead_lettered(
    bootstrap: str, uid: str, spine_worker: dict[str, str]
) -> None:
    data = birth(random.Random(uid), dt.date.today())
    bad_id = data["mother_id"][:-1] + ("0" if data["mother_id"][-1] != "0" else "1")
    with Publisher("health") as pub, pytest.raises(PublishError) as err:
        pub.publish(BIRTH, {**data, "mother_id": bad_id})
    assert err.value.reason == "identifier.citizen_id"

    # A legacy producer bypassing the SDK: garbage bytes with a valid envelope.
    event_id = f"garbage-{uid}"
    env = Envelope(
        id=event_id,
        source="health",
        type=BIRTH,
        version=1,
        subject="x",
        time=dt.datetime.now(dt.UTC),
    )
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    producer.produce(
        "govbus.events.health.birth_registered.v1",
        b"plain text, not avro at all",
        b"k",
        headers=env.to_headers(),
    )
    assert producer.flush(30) == 0

    deadline = dt.datetime.now() + dt.timedelta(seconds=60)
    found = None
    while found is None and dt.datetime.now() < deadline:
        for msg in read_to_end(bootstrap, DLQ):
            headers = dict(msg.headers() or [])
            if headers.get("ce_id") == event_id.encode():
                found = msg
    assert found is not None, "the garbage event did not reach the DLQ"
    headers = dict(found.headers())
    assert headers["govbus_dlq_reason"] == b"codec.magic"
    assert found.value() == b"plain text, not avro at all"


def test_typed_v1_and_v2_events_both_arrive_in_the_latest_shape(
    bootstrap: str, uid: str, spine_worker: dict[str, str]
) -> None:
    data = birth(random.Random(uid), dt.date.today())
    with Publisher("health") as pub:
        old = pub.publish(BirthRegisteredV1(**data)).result(timeout=30)
        # A twin: its own certificate (the same certificate would be a natural-key duplicate).
        twin = {**data, "certificate_no": data["certificate_no"] + "T"}
        new = pub.publish(BirthRegisteredV2(**twin, multiple_birth_order=2)).result(timeout=30)
    assert old.topic.endswith(".v1")
    assert new.topic.endswith(".v2")
    ids = {delivery_id(spine_worker["clear"], "health", r.event_id) for r in (old, new)}
    got = read(bootstrap, spine_worker["clear"], ids)
    assert set(got) == ids
    for item in got.values():
        assert item.envelope.version in (1, 2)
        assert item.record == {
            "baby_name": data["baby_name"],
            "mother_id": data["mother_id"],
            "birth_region": data["birth_region"],
        }

"""The whole batch logic without Kafka: the sink is a list (fine for pure logic; the real-broker
proof is tests/integration)."""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Sequence
from typing import Any

import pytest

from govbus.adapters.publisher import EventEncoder
from govbus.config import KeySettings
from govbus.federation import InboundLookup
from govbus.masking import mask_citizen_id, mask_name
from govbus.policy import PolicyDocument, parse_policy
from govbus.pseudonym import Pseudonymizer
from govbus.schemas.catalogue import default_catalogue
from govbus.schemas.codec import AvroCodec
from govbus.schemas.envelope import Envelope
from govbus.schemas.topics import DLQ, PROGRESS, SCHEMAS, delivery_topic
from govbus.streams.dedupe import InMemoryDedupe
from govbus.streams.deliver import Projector
from govbus.streams.messages import InMessage, Output
from govbus.streams.pipeline import Pipeline
from govbus.streams.validate import Validator
from govbus_devtools.demo.sample_data import birth
from tests.keys import delivery_id

CATALOGUE = default_catalogue()
NOW = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)
APPROVAL = {"approver": "hc", "approved_at": "2026-01-01T00:00:00Z"}
POLICY = parse_policy(
    {
        "subscriptions": [
            {
                "id": "ps",
                "subscriber": "public_security",
                "event_types": ["gov.health.birth_registered"],
                "fields": {
                    "baby_name": "clear",
                    "mother_id": "clear",
                    "multiple_birth_order": "clear",
                },
                "legal_basis": "law",
                "purpose": "register",
                "approval": APPROVAL,
            },
            {
                "id": "mi",
                "subscriber": "medical_insurance",
                "event_types": ["gov.health.birth_registered"],
                "fields": {
                    "baby_name": "mask",
                    "mother_id": "mask",
                    "birth_date": "generalize.year",
                },
                "legal_basis": "law",
                "purpose": "enrol",
                "approval": APPROVAL,
            },
            {
                "id": "cdc-pseudo",
                "subscriber": "disease_control",
                "event_types": ["gov.health.birth_registered"],
                "fields": {"mother_id": "pseudonym"},
                "legal_basis": "law",
                "purpose": "vaccinate",
                "approval": APPROVAL,
            },
        ]
    }
)
TOPIC = "govbus.events.health.birth_registered.v1"


class ListSink:
    def __init__(self) -> None:
        self.batches: list[list[Output]] = []

    def commit(self, outputs: Sequence[Output]) -> None:
        self.batches.append(list(outputs))


def make_pipeline(
    policy: PolicyDocument = POLICY,
    progress: dict[Any, Any] | None = None,
    policy_now: list[PolicyDocument] | None = None,
) -> tuple[Pipeline, ListSink, AvroCodec]:
    """``policy_now``, when given, is a one-item list the test may swap to change policy."""
    codec = AvroCodec()
    for event in CATALOGUE:
        codec.register(event.schema)
    sink = ListSink()

    def current() -> PolicyDocument:
        return policy_now[0] if policy_now else policy

    pipe = Pipeline(
        app_id="t",
        validator=Validator(
            CATALOGUE,
            codec,
            100_000,
            inbound=InboundLookup(current, CATALOGUE, codec),
            subjects=Pseudonymizer(KeySettings()),
        ),
        projector=Projector(codec, Pseudonymizer(KeySettings())),
        codec=codec,
        policy=current,
        sink=sink,
        dedupe=InMemoryDedupe(),
        load_progress=lambda: progress or {},
        clock=lambda: NOW,
    )
    return pipe, sink, codec


def encoded_birth(
    offset: int,
    corrects: str | None = None,
    seed: int | None = None,
    *,
    retract: bool = False,
    **override: Any,
) -> tuple[InMessage, dict[str, Any], str]:
    encoder = EventEncoder("health", CATALOGUE)
    data = {**birth(random.Random(offset if seed is None else seed), NOW.date()), **override}
    # v1 on purpose: the worker reads it as the latest version (v2).
    prepared = encoder.prepare(
        "gov.health.birth_registered", data, version=1, time=NOW, corrects=corrects, retract=retract
    )
    msg = InMessage(TOPIC, 0, offset, prepared.key, prepared.value, prepared.headers)
    return msg, data, prepared.envelope.id


def schemas_in(batch: list[Output]) -> dict[bytes, Any]:
    return {
        bytes.fromhex((o.key or b"").decode()): json.loads(o.value or b"{}")
        for o in batch
        if o.topic == SCHEMAS
    }


def decode(codec: AvroCodec, out: Output, schemas: dict[bytes, Any]) -> dict[str, Any]:
    assert out.value is not None
    fp = out.value[2:10]
    codec.register(schemas[fp])
    return codec.decode(out.value)[1]


def test_one_event_fans_out_with_exact_fields_and_masks() -> None:
    pipe, sink, codec = make_pipeline()
    msg, data, event_id = encoded_birth(0)
    result = pipe.process([msg])
    assert result.counts["accepted"] == 1
    (batch,) = sink.batches
    schemas = schemas_in(batch)
    by_topic = {o.topic: o for o in batch if o.topic.startswith("govbus.deliver.")}
    assert set(by_topic) == {
        delivery_topic(s) for s in ("public_security", "medical_insurance", "disease_control")
    }
    ps = decode(codec, by_topic[delivery_topic("public_security")], schemas)
    # multiple_birth_order is new in v2: a v1 event reads it as its default (null).
    assert ps == {
        "baby_name": data["baby_name"],
        "mother_id": data["mother_id"],
        "multiple_birth_order": None,
    }
    mi = decode(codec, by_topic[delivery_topic("medical_insurance")], schemas)
    assert mi == {
        "baby_name": mask_name(data["baby_name"]),
        "mother_id": mask_citizen_id(data["mother_id"]),
        "birth_date": str(data["birth_date"].year),
    }
    cdc = decode(codec, by_topic[delivery_topic("disease_control")], schemas)
    assert data["mother_id"] not in cdc["mother_id"]
    assert cdc["mother_id"].startswith("dev1.")
    env = Envelope.from_headers(by_topic[delivery_topic("medical_insurance")].headers)
    assert env.id == delivery_id("medical_insurance", "health", event_id)
    assert env.subject != Envelope.from_headers(msg.headers).subject
    progress = [o for o in batch if o.topic == PROGRESS]
    assert len(progress) == 1
    assert b'"next_offset": 1' in (progress[0].value or b"")


def test_two_subscribers_pseudonyms_of_one_person_differ() -> None:
    policy = parse_policy(
        {
            "subscriptions": [
                {
                    "id": f"p-{s}",
                    "subscriber": s,
                    "event_types": ["gov.health.birth_registered"],
                    "fields": {"mother_id": "pseudonym"},
                    "legal_basis": "law",
                    "purpose": "link records",
                    "approval": APPROVAL,
                }
                for s in ("aa", "bb")
            ]
        }
    )
    pipe, sink, codec = make_pipeline(policy)
    pipe.process([encoded_birth(0)[0]])
    schemas = schemas_in(sink.batches[0])
    values = [
        decode(codec, o, schemas)["mother_id"]
        for o in sink.batches[0]
        if o.topic.startswith("govbus.deliver.")
    ]
    assert len(values) == 2
    assert values[0] != values[1]


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda m: InMessage(m.topic, 0, 5, m.key, b"garbage!!!", m.headers), "codec.magic"),
        (lambda m: InMessage(m.topic, 0, 5, m.key, m.value[:-3], m.headers), "codec.payload"),
        (lambda m: InMessage(m.topic, 0, 5, m.key, None, m.headers), "payload.empty"),
        (
            lambda m: InMessage(m.topic, 0, 5, m.key, m.value + b"x" * 200_000, m.headers),
            "payload.too_large",
        ),
        (lambda m: InMessage(m.topic, 0, 5, m.key, m.value, []), "envelope.missing"),
        (
            lambda m: InMessage(
                "govbus.events.tax.tax_registered.v1", 0, 5, m.key, m.value, m.headers
            ),
            "envelope.topic_mismatch",
        ),
        (
            lambda m: InMessage(
                m.topic,
                0,
                5,
                m.key,
                m.value,
                [(k, b"tax" if k == "ce_source" else v) for k, v in m.headers],
            ),
            "policy.not_owner",
        ),
        (
            lambda m: InMessage(
                m.topic,
                0,
                5,
                m.key,
                m.value,
                [(k, b"gov.health.shoes.v1" if k == "ce_type" else v) for k, v in m.headers],
            ),
            "catalogue.unknown_type",
        ),
        (
            lambda m: InMessage(
                m.topic,
                0,
                5,
                m.key,
                m.value,
                [(k, b"2099-01-01T00:00:00Z" if k == "ce_time" else v) for k, v in m.headers],
            ),
            "envelope.time",
        ),
    ],
)
def test_bad_input_is_dead_lettered_with_reason_and_original_bytes(make: Any, reason: str) -> None:
    pipe, sink, _ = make_pipeline()
    good, _, _ = encoded_birth(0)
    bad = make(good)
    result = pipe.process([bad])
    assert result.counts[f"dlq:{reason}"] == 1
    (dlq,) = [o for o in sink.batches[0] if o.topic == DLQ]
    assert dlq.value == bad.value
    headers = dict(dlq.headers)
    assert headers["govbus_dlq_reason"] == reason.encode()
    assert headers["govbus_dlq_offset"] == b"5"
    assert not [o for o in sink.batches[0] if o.topic.startswith("govbus.deliver.")]


def test_bad_check_digit_is_dead_lettered_without_echoing_the_id() -> None:
    pipe, sink, _ = make_pipeline()
    msg, data, _ = encoded_birth(0)
    # Build the bad event past the SDK's own check (a legacy producer would).
    codec = AvroCodec()
    event = CATALOGUE.get("gov.health.birth_registered", 1)
    assert event is not None
    fp = codec.register(event.schema)
    bad_id = data["mother_id"][:-1] + ("0" if data["mother_id"][-1] != "0" else "1")
    bad = InMessage(
        msg.topic, 0, 1, msg.key, codec.encode(fp, {**data, "mother_id": bad_id}), msg.headers
    )
    pipe.process([bad])
    (dlq,) = [o for o in sink.batches[0] if o.topic == DLQ]
    headers = dict(dlq.headers)
    assert headers["govbus_dlq_reason"] == b"identifier.citizen_id"
    assert bad_id.encode() not in headers["govbus_dlq_message"]


def test_already_committed_offsets_are_skipped() -> None:
    pipe, sink, _ = make_pipeline(progress={(TOPIC, 0): {"next_offset": 2}})
    result = pipe.process([encoded_birth(0)[0], encoded_birth(1)[0], encoded_birth(2)[0]])
    assert result.counts["already_committed"] == 2
    assert result.counts["accepted"] == 1
    assert len([o for o in sink.batches[0] if o.topic.startswith("govbus.deliver.")]) == 3


def deliveries(batch: list[Output]) -> dict[str, Output]:
    return {
        o.topic.removeprefix("govbus.deliver."): o
        for o in batch
        if o.topic.startswith("govbus.deliver.")
    }


def test_a_correction_reaches_exactly_the_original_recipients_with_their_masks() -> None:
    newcomer = {
        "id": "newcomer",
        "subscriber": "tax",
        "event_types": ["gov.health.birth_registered"],
        "fields": {"baby_name": "clear"},
        "legal_basis": "law",
        "purpose": "late subscriber",
        "approval": APPROVAL,
    }
    current = [POLICY]
    pipe, sink, codec = make_pipeline(policy_now=current)
    original, data, original_id = encoded_birth(0)
    pipe.process([original])
    # A department subscribing after the original must not get the correction.
    current[0] = parse_policy(
        {"subscriptions": [*(s.model_dump(by_alias=True) for s in POLICY.subscriptions), newcomer]}
    )
    fixed_name = "王晓明"
    correction, _, correction_id = encoded_birth(
        1, seed=0, corrects=original_id, baby_name=fixed_name
    )
    # Same certificate number (the natural dedupe key) as the original, by construction.
    assert data["certificate_no"] == birth(random.Random(0), NOW.date())["certificate_no"]
    result = pipe.process([correction])
    assert result.counts["accepted"] == 1
    assert result.counts["duplicate"] == 0
    batch = sink.batches[-1]
    got = deliveries(batch)
    assert set(got) == {"public_security", "medical_insurance", "disease_control"}
    schemas = {**schemas_in(sink.batches[0]), **schemas_in(batch)}
    assert decode(codec, got["public_security"], schemas)["baby_name"] == fixed_name
    assert decode(codec, got["medical_insurance"], schemas)["baby_name"] == mask_name(fixed_name)
    for subscriber, out in got.items():
        env = Envelope.from_headers(out.headers)
        assert env.corrects == delivery_id(subscriber, "health", original_id)
        assert env.id == delivery_id(subscriber, "health", correction_id)


def test_a_correction_ignores_filters_and_skips_revoked_subscriptions() -> None:
    filtered = parse_policy(
        {
            "subscriptions": [
                {
                    "id": f"f-{name}",
                    "subscriber": name,
                    "event_types": ["gov.health.birth_registered"],
                    "fields": {"baby_name": "clear", "sex": "clear"},
                    "filter": {"field": "sex", "eq": "MALE"},
                    "legal_basis": "law",
                    "purpose": "boys only",
                    "approval": APPROVAL,
                }
                for name in ("aa", "bb")
            ]
        }
    )
    current = [filtered]
    pipe, sink, _ = make_pipeline(policy_now=current)
    original, _, original_id = encoded_birth(0, sex="MALE")
    pipe.process([original])
    assert set(deliveries(sink.batches[-1])) == {"aa", "bb"}
    revoked = filtered.model_dump(by_alias=True)
    revoked["subscriptions"][1]["status"] = "revoked"
    current[0] = parse_policy(revoked)
    # The corrected sex no longer matches the filter: the recipient still holds the wrong fact.
    pipe.process([encoded_birth(1, seed=0, corrects=original_id, sex="FEMALE")[0]])
    assert set(deliveries(sink.batches[-1])) == {"aa"}


def test_a_correction_in_the_same_batch_as_its_original_follows_it() -> None:
    pipe, sink, _ = make_pipeline()
    original, _, original_id = encoded_birth(0)
    correction = encoded_birth(1, seed=0, corrects=original_id, baby_name="王晓明")[0]
    result = pipe.process([original, correction])
    assert result.counts["accepted"] == 2
    topics = [o.topic for o in sink.batches[-1] if o.topic.startswith("govbus.deliver.")]
    assert len(topics) == 6


def test_a_correction_of_an_unknown_event_is_dead_lettered() -> None:
    pipe, sink, _ = make_pipeline()
    result = pipe.process([encoded_birth(0, corrects="no-such-event-0001")[0]])
    assert result.counts["dlq:correction.unknown_original"] == 1
    (dead,) = [o for o in sink.batches[-1] if o.topic == DLQ]
    assert (b"govbus_dlq_reason", b"correction.unknown_original") in [
        (k.encode(), v) for k, v in dead.headers
    ]


def test_a_retraction_reaches_the_original_recipients_marked_as_such() -> None:
    pipe, sink, _ = make_pipeline()
    original, _, original_id = encoded_birth(0)
    pipe.process([original])
    pipe.process([encoded_birth(1, seed=0, corrects=original_id, retract=True)[0]])
    got = deliveries(sink.batches[-1])
    assert set(got) == {"public_security", "medical_insurance", "disease_control"}
    for subscriber, out in got.items():
        env = Envelope.from_headers(out.headers)
        assert env.amendment == "retraction"
        assert env.corrects == delivery_id(subscriber, "health", original_id)
    audit = [json.loads(o.value or b"{}") for o in sink.batches[-1] if o.topic == "govbus.audit"]
    delivered = [r for r in audit if r["kind"] == "delivered"]
    assert {r["reason"] for r in delivered} == {"retraction"}
    assert all(r["detail"] == f"retraction of {original_id}" for r in delivered)

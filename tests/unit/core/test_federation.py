"""Federation as pure logic: province A's pipeline delivers to its subscriber province_b, the
bridge turns that delivery into an event for B, and B's pipeline validates, deduplicates,
routes and masks it again under B's own policy. Sinks are lists; the real two-broker proof
is tests/integration/test_federation.py."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import itertools
import json
import random
from typing import Any

import pytest

from govbus.adapters.federation_bridge import malformed, relayed
from govbus.adapters.publisher import EventEncoder
from govbus.dlq import DeadLetter
from govbus.federation import inbound_types
from govbus.masking import mask_citizen_id, mask_mobile, mask_name
from govbus.policy import MASK_RULES, InboundAgreement, PolicyDocument, parse_policy, validate
from govbus.policy_store import decode as decode_entry
from govbus.policy_store import encode as encode_entry
from govbus.schemas.catalogue import default_catalogue
from govbus.schemas.codec import AvroCodec
from govbus.schemas.envelope import Envelope
from govbus.schemas.federation import delivered_rules
from govbus.schemas.projection import projected_schema
from govbus.schemas.topics import AUDIT, DLQ, check_source, delivery_topic, split_source
from govbus.streams.messages import InMessage, Output
from govbus.streams.pipeline import Pipeline
from govbus_devtools.demo.sample_data import birth, citizen_id
from tests.corpus import full_width
from tests.keys import BUS, delivery_id
from tests.unit.streams.test_pipeline import ListSink, decode, make_pipeline, schemas_in

CATALOGUE = default_catalogue()
BIRTH = CATALOGUE.latest("gov.health.birth_registered")
assert BIRTH is not None
NOW = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)
APPROVAL = {"approver": "province_a_health", "approved_at": "2026-01-01T00:00:00Z"}
TO_B = {
    "id": "xprov-b-newborn",
    "subscriber": "province_b",
    "event_types": ["gov.health.birth_registered"],
    "fields": {
        "certificate_no": "clear",
        "baby_name": "clear",
        "sex": "clear",
        "birth_date": "clear",
        "birth_region": "clear",
        "mother_name": "clear",
        "mother_id": "clear",
        "guardian_phone": "mask",
        "weight_g": "redact",
    },
    # Parents registered in B: the mother's ID was issued there (region code 32...).
    "filter": {"field": "mother_id", "prefix": "32"},
    "legal_basis": "Inter-provincial agreement A-B on newborn household registration",
    "purpose": "household registration of a newborn in the parents' province",
    "approval": APPROVAL,
}
POLICY_A = parse_policy({"subscriptions": [TO_B]})
POLICY_B = parse_policy(
    {
        "inbound": [{"peer": "province_a", "subscription": TO_B}],
        "subscriptions": [
            {
                "id": "b-hukou",
                "subscriber": "public_security",
                "event_types": ["gov.health.birth_registered"],
                "fields": {
                    "baby_name": "clear",
                    "mother_id": "mask",
                    "birth_date": "generalize.year",
                    "guardian_phone": "clear",  # A masked it: delivered as A masked it
                    "weight_g": "clear",  # A redacted it
                    "gestation_weeks": "clear",  # A does not send it
                },
                "legal_basis": "Household registration regulation",
                "purpose": "register the newborn",
                "approval": APPROVAL,
            },
            {
                "id": "b-insurance",
                "subscriber": "medical_insurance",
                "event_types": ["gov.health.birth_registered"],
                "fields": {"mother_name": "mask", "guardian_phone": "pseudonym", "sex": "clear"},
                "legal_basis": "Medical insurance rules",
                "purpose": "enrol the newborn",
                "approval": APPROVAL,
            },
        ],
    }
)


def pipeline(policy: PolicyDocument) -> tuple[Pipeline, ListSink, AvroCodec]:
    """The unit pipeline of test_pipeline (its validator follows the policy's inbound
    agreements too)."""
    return make_pipeline(policy)


def birth_in_a(seed: int, **override: Any) -> tuple[InMessage, dict[str, Any], str]:
    mother_from_b = citizen_id("320102", dt.date(1988, 1, 1), 123)
    data = {**birth(random.Random(seed), NOW.date()), "mother_id": mother_from_b}
    data.update(override)
    encoder = EventEncoder("health", CATALOGUE)
    prepared = encoder.prepare("gov.health.birth_registered", data, time=NOW)
    msg = InMessage(BIRTH.topic, 0, seed, prepared.key, prepared.value, prepared.headers)
    return msg, data, prepared.envelope.id


def as_pulled(out: Output, traceparent: str = "") -> dict[str, Any]:
    """A delivery as province_b pulls it from A's gateway with data=avro (bytes in data_base64)."""
    env = Envelope.from_headers(out.headers)
    event: dict[str, Any] = {
        "id": env.id,
        "source": env.source,
        "type": env.ce_type,
        "subject": env.subject,
        "time": env.time.isoformat(),
        "dataschema": env.dataschema,
        "govbussubscription": "xprov-b-newborn",
        "data_base64": base64.b64encode(out.value or b"").decode(),
    }
    if env.corrects:
        event["govbuscorrects"] = env.corrects
        event["govbusamendment"] = env.amendment
    if traceparent:
        event["traceparent"] = traceparent
    return event


def deliver_in_a(msg: InMessage) -> Output:
    pipe, sink, _ = pipeline(POLICY_A)
    pipe.process([msg])
    (out,) = [o for o in sink.batches[-1] if o.topic == delivery_topic("province_b")]
    return out


def into_b(event: dict[str, Any], offset: int) -> InMessage:
    prepared = relayed(event, "province_a")
    return InMessage(prepared.topic, 0, offset, prepared.key, prepared.value, prepared.headers)


def b_deliveries(sink: ListSink, codec: AvroCodec) -> dict[str, dict[str, Any]]:
    batch = sink.batches[-1]
    schemas = schemas_in(batch)  # schemas new in this batch; earlier ones the codec knows
    return {
        o.topic.removeprefix("govbus.deliver."): decode(codec, o, schemas)
        if (o.value or b"")[2:10] in schemas
        else codec.decode(o.value or b"")[1]
        for o in batch
        if o.topic.startswith("govbus.deliver.")
    }


def test_an_event_from_a_reaches_bs_subscribers_under_both_policies() -> None:
    msg, data, event_id = birth_in_a(1)
    pulled = as_pulled(deliver_in_a(msg))
    assert pulled["id"] == delivery_id("province_b", "health", event_id)

    pipe, sink, codec = pipeline(POLICY_B)
    result = pipe.process([into_b(pulled, 0)])
    assert result.counts["accepted"] == 1, result.counts
    got = b_deliveries(sink, codec)
    assert got["public_security"] == {
        "baby_name": data["baby_name"],
        "mother_id": mask_citizen_id(data["mother_id"]),
        "birth_date": str(data["birth_date"].year),
        "guardian_phone": mask_mobile(data["guardian_phone"]),  # A's mask, kept
        "weight_g": None,  # A redacted it; B cannot have more
    }  # gestation_weeks: A does not send it, so B cannot deliver it
    insurance = got["medical_insurance"]
    assert insurance["mother_name"] == mask_name(data["mother_name"])
    assert insurance["sex"] == data["sex"]
    assert data["guardian_phone"][-4:] not in insurance["guardian_phone"]
    assert insurance["guardian_phone"].startswith("dev1.")

    # The delivered schema tells B's subscriber what was done to each field, by whom.
    schemas = schemas_in(sink.batches[-1])
    ps_out = next(o for o in sink.batches[-1] if o.topic == delivery_topic("public_security"))
    masks = {f["name"]: f["govbus.mask"] for f in schemas[(ps_out.value or b"")[2:10]]["fields"]}
    assert masks == {
        "baby_name": "clear",
        "mother_id": "mask",
        "birth_date": "generalize.year",
        "guardian_phone": "mask",
        "weight_g": "redact",
    }
    # B's ids are B's own: per subscriber, from the source province_a/health.
    env = Envelope.from_headers(ps_out.headers)
    assert env.source == "province_a/health"
    assert env.id == delivery_id("public_security", "province_a/health", pulled["id"])


def test_a_relayed_event_read_twice_is_a_duplicate_in_b() -> None:
    msg, _, _ = birth_in_a(2)
    pulled = as_pulled(deliver_in_a(msg))
    pipe, sink, _ = pipeline(POLICY_B)
    pipe.process([into_b(pulled, 0)])
    again = pipe.process([into_b(pulled, 1)])  # the bridge crashed before acking at A
    assert again.counts == {"duplicate": 1}
    assert not [o for o in sink.batches[-1] if o.topic.startswith("govbus.deliver.")]


def test_b_refuses_what_no_inbound_agreement_covers() -> None:
    msg, _, _ = birth_in_a(3)
    pulled = as_pulled(deliver_in_a(msg))
    # A starts sending more than agreed: another projection, so another schema.
    wider = POLICY_A.subscriptions[0].model_copy(
        update={"fields": {**POLICY_A.subscriptions[0].fields, "health_status": "clear"}}
    )
    widened = as_pulled(deliver_in_a_with(PolicyDocument(subscriptions=[wider]), msg))
    unknown_peer = {**pulled}
    pipe, sink, _ = pipeline(POLICY_B)
    result = pipe.process([into_b(widened, 0)])
    assert result.counts == {"dlq:federation.no_agreement": 1}
    prepared = relayed(unknown_peer, "province_c")
    result = pipe.process(
        [InMessage(prepared.topic, 0, 1, prepared.key, prepared.value, prepared.headers)]
    )
    assert result.counts == {"dlq:federation.no_agreement": 1}
    # The department part must still own the type.
    forged = {**pulled, "source": "tax"}
    result = pipe.process([into_b(forged, 2)])
    assert result.counts == {"dlq:policy.not_owner": 1}
    dead = [o for b in sink.batches for o in b if o.topic == DLQ]
    assert len(dead) == 3


def deliver_in_a_with(policy: PolicyDocument, msg: InMessage) -> Output:
    pipe, sink, _ = pipeline(policy)
    pipe.process([msg])
    (out,) = [o for o in sink.batches[-1] if o.topic == delivery_topic("province_b")]
    return out


def test_a_correction_from_a_reaches_bs_original_recipients() -> None:
    msg, data, event_id = birth_in_a(4)
    provider, provider_sink, _ = pipeline(POLICY_A)
    provider.process([msg])
    encoder = EventEncoder("health", CATALOGUE)
    fixed = encoder.prepare(
        "gov.health.birth_registered", {**data, "baby_name": "王小明"}, time=NOW, corrects=event_id
    )
    provider.process([InMessage(BIRTH.topic, 0, 5, fixed.key, fixed.value, fixed.headers)])
    first, second = (
        next(o for o in batch if o.topic == delivery_topic("province_b"))
        for batch in provider_sink.batches
    )
    pipe, sink, codec = pipeline(POLICY_B)
    pipe.process([into_b(as_pulled(first), 0)])
    original_ids = {
        o.topic: Envelope.from_headers(o.headers).id
        for o in sink.batches[-1]
        if o.topic.startswith("govbus.deliver.")
    }
    result = pipe.process([into_b(as_pulled(second), 1)])
    assert result.counts["accepted"] == 1, result.counts
    corrections = [o for o in sink.batches[-1] if o.topic.startswith("govbus.deliver.")]
    assert {o.topic: Envelope.from_headers(o.headers).corrects for o in corrections} == (
        original_ids
    )
    assert b_deliveries(sink, codec)["public_security"]["baby_name"] == "王小明"


def test_a_filtered_out_event_never_leaves_a() -> None:
    msg, _, _ = birth_in_a(6, mother_id=citizen_id("110101", dt.date(1990, 3, 7), 123))
    pipe, sink, _ = pipeline(POLICY_A)
    pipe.process([msg])
    assert not [o for o in sink.batches[-1] if o.topic == delivery_topic("province_b")]


def test_inbound_type_is_the_providers_projection() -> None:
    sub = POLICY_A.subscriptions[0]
    types = inbound_types(POLICY_B, CATALOGUE, NOW)
    ((peer, fp), entry) = next(iter(types.items()))
    assert peer == "province_a"
    assert entry.schema == projected_schema(BIRTH, sub.fields, sub.id)
    assert fp == entry.fingerprint
    assert entry.owner == "province_a/health"
    assert set(entry.fields) == set(sub.fields)
    assert entry.fields["mother_id"].format == "citizen_id"  # clear: still checked in B
    assert entry.fields["guardian_phone"].format is None  # masked: no longer a phone number
    assert entry.dedupe_key == BIRTH.dedupe_key  # the certificate number comes in clear
    no_key = {k: v for k, v in sub.fields.items() if k != "certificate_no"}
    revoked = POLICY_B.inbound[0].subscription.model_copy(update={"status": "revoked"})
    assert not inbound_types(
        PolicyDocument(inbound=[InboundAgreement(peer="province_a", subscription=revoked)]),
        CATALOGUE,
        NOW,
    )
    narrowed = POLICY_B.inbound[0].subscription.model_copy(update={"fields": no_key})
    (entry2,) = inbound_types(
        PolicyDocument(inbound=[InboundAgreement(peer="province_a", subscription=narrowed)]),
        CATALOGUE,
        NOW,
    ).values()
    assert entry2.dedupe_key == ()


@pytest.mark.parametrize(("received", "wanted"), list(itertools.product(MASK_RULES, MASK_RULES)))
def test_masks_never_loosen_across_the_boundary(received: str, wanted: str) -> None:
    sub = POLICY_A.subscriptions[0]
    entry = next(iter(inbound_types(POLICY_B, CATALOGUE, NOW).values()))
    received_rules = dict.fromkeys(entry.received_rules or {}, received)
    event = dataclasses.replace(entry, received_rules=received_rules)
    (shown, applied) = delivered_rules(event, {"baby_name": wanted})["baby_name"]
    if received == "clear":
        assert (shown, applied) == (wanted, wanted)
    else:
        # An already masked value is never shown as clear, and B applies only what works
        # on any string: nothing, a pseudonym, or redaction.
        assert shown != "clear"
        assert applied in ("clear", "pseudonym", "redact")
        if wanted == "redact" or received == "redact":
            assert shown == "redact"
    assert delivered_rules(event, {"gestation_weeks": wanted}) == {}  # not sent
    assert sub.id  # the agreement under test


def test_inbound_agreements_are_validated_and_stored_under_their_own_key() -> None:
    agreement = POLICY_B.inbound[0]
    key, value = encode_entry(agreement)
    assert key == b"inbound:province_a:xprov-b-newborn"
    assert decode_entry(key, value) == (key.decode(), agreement)
    with pytest.raises(ValueError, match="wrong key"):
        decode_entry(b"inbound:province_c:xprov-b-newborn", value)
    bad = parse_policy(
        {
            "inbound": [
                {
                    "peer": "province_a",
                    "subscription": {**TO_B, "fields": {**TO_B["fields"], "nope": "clear"}},
                }
            ]
        }
    )
    assert validate(bad, CATALOGUE) == [
        "inbound agreement inbound:province_a:xprov-b-newborn: "
        "gov.health.birth_registered has no field nope"
    ]
    assert validate(POLICY_B, CATALOGUE) == []


@pytest.mark.parametrize(
    ("source", "parts"),
    [("health", (None, "health")), ("province_a/health", ("province_a", "health"))],
)
def test_sources(source: str, parts: tuple[str | None, str]) -> None:
    assert check_source(source) == source
    assert split_source(source) == parts


@pytest.mark.parametrize("source", ["a/b/c", "/health", "province_a/", "Province/health", "a b"])
def test_bad_sources(source: str) -> None:
    with pytest.raises(ValueError, match="invalid department id"):
        check_source(source)


def test_an_event_the_bridge_cannot_relay_is_dead_lettered_whole() -> None:
    event = {"id": "x", "type": "not a type", "data_base64": "!!"}
    with pytest.raises(ValueError, match="cannot relay"):
        relayed(event, "province_a")
    prepared = malformed(event, "province_a", "bad type")
    assert prepared.topic == DLQ
    assert dict(prepared.headers)["govbus_dlq_reason"] == b"federation.malformed"
    assert b'"not a type"' in prepared.value
    headers = {k: v.decode() for k, v in prepared.headers}
    letter = DeadLetter(
        0, 0, "federation.malformed", "", headers["govbus_dlq_topic"], "/", "", "x", "", None,
        prepared.value, [],
    )  # fmt: skip
    assert letter.peer == "province_a"  # how reconcile counts it: by peer, not as an input


def test_the_peers_trace_context_travels_with_the_relayed_event() -> None:
    msg, _, _ = birth_in_a(7)
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    prepared = relayed(as_pulled(deliver_in_a(msg), parent), "province_a")
    assert dict(prepared.headers)["traceparent"] == parent.encode()


def test_b_dead_letters_a_non_canonical_identifier_that_a_let_through() -> None:
    """B's worker is the authority on what it accepts: a clear ID whose digits are
    full-width (an older A, or a forged page) is another person to B's indexes."""
    msg, data, _ = birth_in_a(7)
    delivered = deliver_in_a(msg)
    codec = AvroCodec()
    fp = codec.register(projected_schema(BIRTH, TO_B["fields"], TO_B["id"]))
    _, record = codec.decode(delivered.value or b"")
    mother = data["mother_id"]
    record["mother_id"] = mother[:2] + full_width(mother[2:17]) + mother[17]
    forged = dataclasses.replace(delivered, value=codec.encode(fp, record))
    pipe, sink, _ = pipeline(POLICY_B)
    result = pipe.process([into_b(as_pulled(forged), 0)])
    assert result.counts == {"dlq:identifier.citizen_id": 1}
    assert not [o for o in sink.batches[-1] if o.topic.startswith("govbus.deliver.")]


def test_b_computes_its_own_subject_from_what_a_sent_in_clear() -> None:
    """B's audit and disclosure index file a relayed event under B's own subject pseudonym
    when A sent the subject field in clear (so B's citizen report finds it), and under none
    when A masked it (B cannot know whose it is); the peer's pseudonym is no subject here."""
    bus = BUS
    msg, data, _ = birth_in_a(8)
    pipe, sink, _ = pipeline(POLICY_B)
    pipe.process([into_b(as_pulled(deliver_in_a(msg)), 0)])
    subjects = {
        json.loads(o.value or b"{}")["subject"] for o in sink.batches[-1] if o.topic == AUDIT
    }
    assert subjects == {bus.subject("certificate_no", data["certificate_no"])}

    masked = {**TO_B, "fields": {**TO_B["fields"], "certificate_no": "mask"}}
    policy_a = parse_policy({"subscriptions": [masked]})
    policy_b = parse_policy(
        {
            "inbound": [{"peer": "province_a", "subscription": masked}],
            "subscriptions": POLICY_B.model_dump(by_alias=True)["subscriptions"],
        }
    )
    pulled = as_pulled(deliver_in_a_with(policy_a, birth_in_a(9)[0]))
    assert pulled["subject"]  # A's pseudonym for province_b: only the Kafka key in B
    pipe, sink, _ = pipeline(policy_b)
    assert pipe.process([into_b(pulled, 0)]).counts["accepted"] == 1
    batch = sink.batches[-1]
    assert {json.loads(o.value or b"{}")["subject"] for o in batch if o.topic == AUDIT} == {""}
    for out in batch:
        if out.topic.startswith("govbus.deliver."):
            env = Envelope.from_headers(out.headers)
            assert env.subject == ""
            assert out.key == env.id.encode()

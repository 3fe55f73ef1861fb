"""The subject is the bus's: the worker computes it from the record with its own key, and a
publisher can neither choose it (clear ID, someone else's pseudonym) nor get what it wrote
into ``ce_subject`` or the Kafka key into audit, indexes or deliveries. Pure pipeline; the
real worker is tested in tests/integration/test_streams.py."""

from __future__ import annotations

from govbus.config import KeySettings
from govbus.disclosures import subject_pseudonyms
from govbus.pseudonym import Pseudonymizer
from govbus.schemas.audit import AuditRecord
from govbus.schemas.catalogue import default_catalogue
from govbus.schemas.envelope import Envelope
from govbus.schemas.topics import AUDIT, DLQ
from govbus.streams.messages import InMessage, Output
from tests.unit.streams.test_pipeline import encoded_birth, make_pipeline

CATALOGUE = default_catalogue()
BUS = Pseudonymizer(KeySettings())


def with_headers(msg: InMessage, key: bytes | None, **headers: bytes) -> InMessage:
    kept = [(k, v) for k, v in msg.headers if k not in headers]
    return InMessage(msg.topic, 0, msg.offset, key, msg.value, kept + list(headers.items()))


def audit_of(batch: list[Output]) -> list[AuditRecord]:
    return [AuditRecord.from_json(o.value or b"") for o in batch if o.topic == AUDIT]


def test_the_sdk_sends_no_subject_and_the_bus_computes_it_from_the_record() -> None:
    msg, data, _ = encoded_birth(0)
    assert "ce_subject" not in dict(msg.headers)
    pipe, sink, _ = make_pipeline()
    assert pipe.process([msg]).counts["accepted"] == 1
    (batch,) = sink.batches
    expected = BUS.subject("certificate_no", data["certificate_no"])
    records = audit_of(batch)
    assert {r.kind for r in records} == {"accepted", "delivered"}
    assert {r.subject for r in records} == {expected}
    # ... under which the citizen's report finds it.
    assert expected in subject_pseudonyms(BUS, CATALOGUE, data["certificate_no"])
    for out in batch:
        if out.topic.startswith("govbus.deliver."):
            subscriber = out.topic.removeprefix("govbus.deliver.")
            mine = BUS.for_subscriber(subscriber, "subject", expected)
            assert Envelope.from_headers(out.headers).subject == mine
            assert out.key == mine.encode()


def test_a_raw_publishers_key_and_matching_subject_go_nowhere() -> None:
    msg, data, _ = encoded_birth(1)
    subject = BUS.subject("certificate_no", data["certificate_no"])
    raw = with_headers(msg, data["mother_id"].encode(), ce_subject=subject.encode())
    pipe, sink, _ = make_pipeline()
    assert pipe.process([raw]).counts["accepted"] == 1
    (batch,) = sink.batches
    for out in batch:
        assert data["mother_id"].encode() != out.key
        assert all(data["mother_id"].encode() not in v for _, v in out.headers)
    assert all(data["mother_id"] not in r.to_json().decode() for r in audit_of(batch))


def test_a_clear_id_as_subject_is_dead_lettered_and_kept_out_of_the_audit() -> None:
    msg, data, _ = encoded_birth(2)
    clear = data["mother_id"]
    forged = with_headers(msg, clear.encode(), ce_subject=clear.encode())
    pipe, sink, _ = make_pipeline()
    assert pipe.process([forged]).counts == {"dlq:envelope.subject_mismatch": 1}
    (batch,) = sink.batches
    (letter,) = [o for o in batch if o.topic == DLQ]
    assert dict(letter.headers)["govbus_dlq_reason"] == b"envelope.subject_mismatch"
    assert clear not in dict(letter.headers)["govbus_dlq_message"].decode()
    (record,) = audit_of(batch)
    assert record.kind == "dead_letter"
    assert record.subject == ""
    assert clear not in record.to_json().decode()
    assert not [o for o in batch if o.topic.startswith("govbus.deliver.")]


def test_someone_elses_subject_cannot_hide_a_delivery_from_a_citizens_report() -> None:
    msg, _, _ = encoded_birth(3)
    other = BUS.subject("certificate_no", "Q0000000001")
    forged = with_headers(msg, b"k", ce_subject=other.encode())
    pipe, _, _ = make_pipeline()
    assert pipe.process([forged]).counts == {"dlq:envelope.subject_mismatch": 1}

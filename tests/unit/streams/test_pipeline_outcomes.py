"""Dedupe and audit decisions of the pipeline (pure; real Redis/Kafka in tests/integration)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace

import pytest

from govbus.schemas.audit import AuditRecord, verify
from govbus.schemas.topics import AUDIT, PROGRESS
from govbus.streams.messages import InMessage, Output
from tests.unit.streams.test_pipeline import encoded_birth, make_pipeline


def audit_of(batch: list[Output]) -> list[AuditRecord]:
    return [AuditRecord.from_json(o.value or b"") for o in batch if o.topic == AUDIT]


def deliveries(batch: list[Output]) -> list[Output]:
    return [o for o in batch if o.topic.startswith("govbus.deliver.")]


def test_a_republished_event_is_a_counted_audited_duplicate() -> None:
    pipe, sink, _ = make_pipeline()
    msg, _, event_id = encoded_birth(0)
    again = replace(msg, offset=7)  # the publisher retried: same id, new offset
    result = pipe.process([msg, again])
    assert result.counts["accepted"] == 1
    assert result.counts["duplicate"] == 1
    assert len(deliveries(sink.batches[0])) == 3
    dup = [r for r in audit_of(sink.batches[0]) if r.kind == "duplicate"]
    assert len(dup) == 1
    assert dup[0].event_id == event_id
    assert dup[0].reason == "id"
    assert "/0/0" in dup[0].detail


def test_same_certificate_under_a_new_event_id_is_a_natural_key_duplicate() -> None:
    pipe, sink, _ = make_pipeline()
    first, data, _ = encoded_birth(0)
    second, _, _ = encoded_birth(1, certificate_no=data["certificate_no"])
    result = pipe.process([first, second])
    assert result.counts["duplicate"] == 1
    assert [r.reason for r in audit_of(sink.batches[0]) if r.kind == "duplicate"] == ["natural"]


class FlakySink:
    def __init__(self, fail_times: int) -> None:
        self.fail_times = fail_times
        self.batches: list[list[Output]] = []

    def commit(self, outputs: Sequence[Output]) -> None:
        if self.fail_times:
            self.fail_times -= 1
            raise RuntimeError("broker unavailable")
        self.batches.append(list(outputs))


def test_a_batch_that_did_not_commit_is_delivered_when_retried() -> None:
    pipe, _, _ = make_pipeline()
    flaky = FlakySink(fail_times=1)
    pipe.sink = flaky
    msg, _, _ = encoded_birth(0)
    with pytest.raises(RuntimeError):
        pipe.process([msg])
    # The claim in the dedupe store is the message's own, so the retry is not a duplicate.
    result = pipe.process([msg])
    assert result.counts["accepted"] == 1
    assert result.counts["duplicate"] == 0
    assert len(deliveries(flaky.batches[0])) == 3
    assert [r.seq for r in audit_of(flaky.batches[0])][:1] == [1]


def test_audit_chain_links_across_batches_and_shows_tampering() -> None:
    pipe, sink, _ = make_pipeline()
    pipe.process([encoded_birth(0)[0]])
    pipe.process(
        [
            encoded_birth(1)[0],
            InMessage(
                "govbus.events.health.birth_registered.v1", 0, 2, None, b"junk-junk-junk", []
            ),
        ]
    )
    records = audit_of(sink.batches[0]) + audit_of(sink.batches[1])
    kinds = [r.kind for r in records]
    assert kinds.count("accepted") == 2
    assert kinds.count("delivered") == 6
    assert kinds.count("dead_letter") == 1
    assert [r.seq for r in records] == list(range(1, len(records) + 1))
    assert verify(records) == []
    delivered = next(r for r in records if r.kind == "delivered")
    assert delivered.fields == {
        "baby_name": "clear",
        "mother_id": "clear",
        "multiple_birth_order": "clear",
    }
    assert delivered.legal_basis == "law"
    assert delivered.purpose == "register"
    forged = [*records]
    forged[3] = replace(forged[3], subscriber="someone_else")
    assert any("hash does not match" in p for p in verify(forged))
    assert any("seq" in p for p in verify(records[:2] + records[3:]))
    progress = json.loads(next(o.value for o in sink.batches[1] if o.topic == PROGRESS) or b"{}")
    assert progress["audit_seq"] == records[-1].seq
    assert progress["audit_head"] == records[-1].hash


def test_chain_resumes_from_the_committed_progress_marker() -> None:
    pipe, sink, _ = make_pipeline()
    pipe.process([encoded_birth(0)[0]])
    first = audit_of(sink.batches[0])
    state = json.loads(next(o.value for o in sink.batches[0] if o.topic == PROGRESS) or b"{}")
    restarted, sink2, _ = make_pipeline(
        progress={("govbus.events.health.birth_registered.v1", 0): state}
    )
    restarted.process([encoded_birth(1)[0]])
    second = audit_of(sink2.batches[0])
    assert second[0].prev_hash == first[-1].hash
    assert verify(first + second) == []

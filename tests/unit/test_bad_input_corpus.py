"""Every case of the bad-input corpus through the worker's batch logic: the right dead-letter
reason, the original bytes kept, nothing raised; the legitimate oddities delivered."""

from __future__ import annotations

import pytest

from govbus.schemas.topics import DLQ
from govbus.streams.messages import InMessage
from tests.corpus import Case, cases
from tests.unit.test_pipeline import NOW, make_pipeline

CASES = cases("unit", NOW)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_case_gets_its_outcome(case: Case) -> None:
    pipe, sink, _ = make_pipeline()
    msg = InMessage(case.topic, 0, 0, case.key, case.value, case.headers)
    result = pipe.process([msg])
    (batch,) = sink.batches
    dead = [o for o in batch if o.topic == DLQ]
    if case.reason is None:
        assert result.counts["accepted"] == 1
        assert dead == []
        return
    assert result.counts == {f"dlq:{case.reason}": 1}
    (letter,) = dead
    assert letter.value == case.value  # the original bytes, for redrive
    assert dict(letter.headers)["govbus_dlq_reason"] == case.reason.encode()


def test_the_corpus_covers_every_category_the_bus_promises() -> None:
    reasons = {c.reason for c in CASES}
    assert {
        "payload.empty",
        "payload.too_large",
        "codec.magic",
        "codec.truncated",
        "codec.payload",
        "codec.trailing",
        "codec.schema_mismatch",
        "catalogue.unknown_type",
        "envelope.topic_mismatch",
        "policy.not_owner",
        "envelope.unsafe",
        "envelope.encoding",
        "envelope.header_size",
        "envelope.duplicate",
        "envelope.time",
        "identifier.citizen_id",
        "field.date",
        "field.text",
        None,
    } <= reasons


def test_a_batch_of_the_whole_corpus_is_processed_in_one_go() -> None:
    pipe, _, _ = make_pipeline()
    batch = [
        InMessage(c.topic, 0, offset, c.key, c.value, c.headers) for offset, c in enumerate(CASES)
    ]
    result = pipe.process(batch)
    assert sum(n for k, n in result.counts.items() if k.startswith("dlq:")) == sum(
        c.reason is not None for c in CASES
    )
    assert result.counts["accepted"] == sum(c.reason is None for c in CASES)

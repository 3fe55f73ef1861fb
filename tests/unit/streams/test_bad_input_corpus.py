"""Every case of the bad-input corpus through the worker's batch logic: the right dead-letter
reason, the original bytes kept, nothing raised; the legitimate oddities delivered."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govbus.config import KeySettings
from govbus.pseudonym import Pseudonymizer
from govbus.schemas.codec import AvroCodec
from govbus.schemas.topics import DLQ
from govbus.streams.messages import Accepted, InMessage
from govbus.streams.validate import Validator
from tests.corpus import Case, cases
from tests.unit.streams.test_pipeline import CATALOGUE, NOW, make_pipeline

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


_header_names = st.sampled_from(
    ["ce_id", "ce_source", "ce_type", "ce_time", "ce_subject", "ce_specversion", "x", "traceparent"]
)


@given(
    value=st.one_of(st.none(), st.binary(max_size=300)),
    headers=st.lists(st.tuples(_header_names, st.binary(max_size=80)), max_size=8),
    mutate=st.integers(min_value=0, max_value=len(CASES) - 1),
    flip=st.integers(min_value=0, max_value=10_000),
)
@settings(max_examples=300, deadline=None)
def test_fuzzed_inputs_never_crash_the_pipeline(
    value: bytes | None, headers: list[tuple[str, bytes]], mutate: int, flip: int
) -> None:
    """Random bytes and headers, and corpus inputs with one byte flipped: always exactly one
    outcome per input (accepted or dead letter), never an exception."""
    pipe, _, _ = make_pipeline()
    base = CASES[mutate]
    flipped = base.value
    if flipped:
        i = flip % len(flipped)
        flipped = flipped[:i] + bytes([flipped[i] ^ 0xFF]) + flipped[i + 1 :]
    batch = [
        InMessage(base.topic, 0, 0, b"k", value, headers),
        InMessage(base.topic, 0, 1, b"k", flipped, base.headers),
    ]
    result = pipe.process(batch)
    decided = sum(n for k, n in result.counts.items() if k.startswith("dlq:")) + sum(
        result.counts[k] for k in ("accepted", "duplicate")
    )
    assert decided == 2


@pytest.mark.parametrize(("age_days", "outcome"), [(6, "accepted"), (8, "dlq:envelope.stale")])
def test_an_event_older_than_the_dedupe_window_cannot_be_proven_new(
    age_days: int, outcome: str
) -> None:
    (case,) = [
        c for c in cases("stale", NOW - dt.timedelta(days=age_days)) if c.name == "middle-dot-name"
    ]
    validator = Validator(
        CATALOGUE,
        AvroCodec(),
        1_000_000,
        max_age=dt.timedelta(days=7),
        subjects=Pseudonymizer(KeySettings()),
    )
    for event in CATALOGUE:
        validator.codec.register(event.schema)
    got = validator(InMessage(case.topic, 0, 0, b"k", case.value, case.headers), NOW)
    assert (
        "accepted" if isinstance(got, Accepted) else f"dlq:{getattr(got, 'reason', '')}"
    ) == outcome

"""The audit hash chain: breaks inside a chain, and a removed or rewritten tail caught
against the head each worker commits with its progress."""

from __future__ import annotations

import json
from dataclasses import asdict, replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from govbus.schemas.audit import (
    AuditRecord,
    ChainState,
    ChainWatch,
    append,
    append_body,
    append_json,
    record_body,
    verify,
    verify_heads,
)


def chain(n: int, name: str = "app|t|0") -> tuple[list[AuditRecord], ChainState]:
    state = ChainState()
    records = [
        append(
            state,
            AuditRecord(
                kind="accepted", at="2026-11-23T00:00:00Z", chain=name, seq=0, event_id=f"e{i}"
            ),
        )
        for i in range(n)
    ]
    return records, state


def test_an_intact_chain_verifies_against_its_head_even_with_newer_records() -> None:
    records, state = chain(5)
    heads = {"app|t|0": (3, records[2].hash)}  # read before the last two were committed
    assert verify(records) == []
    assert verify_heads(records, heads) == []
    assert verify_heads(records, {"app|t|0": (state.seq, state.head)}) == []


def test_a_removed_tail_is_caught_only_by_the_head() -> None:
    records, state = chain(5)
    heads = {"app|t|0": (state.seq, state.head)}
    truncated = records[:3]
    assert verify(truncated) == []  # what is left still links up
    assert verify_heads(truncated, heads) == [
        "app|t|0: committed head #5 is missing from the audit topic"
    ]


def test_a_rewritten_and_resealed_tail_is_caught() -> None:
    records, state = chain(5)
    heads = {"app|t|0": (state.seq, state.head)}
    forged = [*records[:4], replace(records[4], event_id="forged").sealed()]
    assert verify(forged) == []  # resealed with a valid link: the chain alone cannot tell
    assert verify_heads(forged, heads) == ["app|t|0#5: differs from the committed head"]


def test_an_edit_inside_the_chain_breaks_it() -> None:
    records, _ = chain(4)
    records[1] = replace(records[1], event_id="edited")
    assert verify(records) == ["app|t|0#2: hash does not match its content"]


def test_a_watch_fed_record_by_record_finds_what_verify_finds() -> None:
    records, _ = chain(6)
    broken = [*records[:2], records[3], replace(records[4], detail="x"), records[5]]
    watch = ChainWatch()
    one_by_one = [p for rec in broken for p in watch.check(rec)]
    assert one_by_one == verify(broken)
    assert one_by_one == [
        "app|t|0: seq 4 follows 2",
        "app|t|0#4: prev_hash does not match record 2",
        "app|t|0#5: hash does not match its content",
    ]


def test_a_watch_that_forgot_checks_the_next_record_on_its_own() -> None:
    records, _ = chain(5)
    watch = ChainWatch()
    assert [watch.check(r) for r in records[:2]] == [[], []]
    watch.forget()  # a rebalance: another reader saw #3
    assert watch.check(records[3]) == []
    assert watch.check(records[4]) == []
    assert watch.check(replace(records[4], seq=9)) != []


@given(
    st.builds(
        AuditRecord,
        kind=st.sampled_from(["accepted", "delivered", "dead_letter"]),
        at=st.text(max_size=30),
        chain=st.text(max_size=30),
        seq=st.integers(min_value=0, max_value=10**9),
        event_id=st.text(max_size=40),
        fields=st.dictionaries(st.text(max_size=10), st.text(max_size=10), max_size=5),
        detail=st.text(max_size=60),
    )
)
def test_serialisation_is_byte_identical_to_the_original_asdict_form(record: AuditRecord) -> None:
    """The fast shallow serialisation must not change a byte, or old chains stop verifying."""
    sealed = record.sealed()
    body = {k: v for k, v in asdict(sealed).items() if k != "hash"}
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    assert sealed.canonical() == canonical.encode()
    assert (
        sealed.to_json() == json.dumps(asdict(sealed), sort_keys=True, ensure_ascii=False).encode()
    )


@given(
    st.lists(
        st.builds(
            AuditRecord,
            kind=st.sampled_from(["read", "acked"]),
            at=st.text(max_size=30),
            chain=st.just("gateway|g|1"),
            seq=st.just(0),
            subscriber=st.text(max_size=20),
            delivery_id=st.text(max_size=40),
            detail=st.text(max_size=60),
            trace_id=st.text(max_size=32),
        ),
        max_size=5,
    )
)
def test_the_one_pass_json_seals_the_same_chain(records: list[AuditRecord]) -> None:
    one_pass, usual = ChainState(), ChainState()
    parsed = [AuditRecord.from_json(append_json(one_pass, r)) for r in records]
    assert parsed == [append(usual, r) for r in records]
    assert (one_pass.seq, one_pass.head) == (usual.seq, usual.head)
    assert verify(parsed) == []


@given(
    st.lists(
        st.builds(
            AuditRecord,
            kind=st.sampled_from(["accepted", "delivered", "dead_letter"]),
            at=st.just("2026-11-23T00:00:00+00:00"),
            chain=st.just("app|t|0"),
            seq=st.just(0),
            event_id=st.text(max_size=20),
            subject=st.text(max_size=20),
            fields=st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=4),
            detail=st.text(max_size=30),
        ),
        max_size=5,
    )
)
def test_the_worker_s_dict_records_seal_byte_for_byte_as_the_dataclass_ones(
    records: list[AuditRecord],
) -> None:
    from_bodies, from_records = ChainState(), ChainState()
    written = [
        append_body(
            from_bodies, record_body(**{k: v for k, v in r._as_dict().items() if k != "hash"})
        )
        for r in records
    ]
    assert written == [append_json(from_records, r) for r in records]
    assert (from_bodies.seq, from_bodies.head) == (from_records.seq, from_records.head)


def test_a_record_body_refuses_a_field_the_record_does_not_have() -> None:
    with pytest.raises(TypeError, match="unknown audit fields"):
        record_body(kind="accepted", colour="red")

"""Reconciliation logic: exact when every input has one decision and every audited delivery
or dead letter is on its topic once; every other case is a named gap."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
import typer

from govbus.cli.reconcile import parse_since
from govbus.schemas.audit import AuditRecord
from govbus.streams.reconcile import Copy, Input, late_copies, late_gaps, reconcile

T = "govbus.events.health.birth_registered.v2"


def record(kind: str, offset: int, **kw: str) -> AuditRecord:
    return AuditRecord(kind=kind, at="", chain="app|x|0", seq=0, input=f"{T}/0/{offset}", **kw)  # type: ignore[arg-type]


def world() -> tuple[list[Input], list[AuditRecord], Counter[tuple[str, str]], Counter[str]]:
    inputs = [Input(T, 0, n, f"e{n}") for n in range(4)]
    audit = [
        record("accepted", 0),
        record("delivered", 0, subscriber="ps", delivery_id="d0ps"),
        record("delivered", 0, subscriber="mi", delivery_id="d0mi"),
        record("duplicate", 1),
        record("dead_letter", 2),
        record("accepted", 3),  # routed to nobody
    ]
    delivered = Counter({("ps", "d0ps"): 1, ("mi", "d0mi"): 1})
    dlq = Counter({f"{T}/0/2": 1})
    return inputs, audit, delivered, dlq


def test_exact_when_everything_is_accounted_for() -> None:
    inputs, audit, delivered, dlq = world()
    result = reconcile(inputs, audit, delivered, dlq, {(T, 0): 4})
    assert result.exact
    assert (result.inputs, result.accepted, result.duplicates, result.dead_letters) == (4, 2, 1, 1)
    assert result.deliveries == 2
    assert result.by_subscriber == {"ps": 1, "mi": 1}


def test_an_input_without_decision_is_lost_if_committed_else_pending() -> None:
    inputs, audit, delivered, dlq = world()
    inputs.append(Input(T, 0, 4, "e4"))
    pending = reconcile(inputs, audit, delivered, dlq, {(T, 0): 4})
    assert pending.exact
    assert pending.pending == 1
    lost = reconcile(inputs, audit, delivered, dlq, {(T, 0): 5})
    assert [(g.kind, g.event_id) for g in lost.gaps] == [("lost", "e4")]


@pytest.mark.parametrize(
    ("change", "gap"),
    [
        (lambda a, d, q: d.update({("ps", "d0ps"): 1}), "delivered_twice"),
        (lambda a, d, q: d.pop(("mi", "d0mi")), "delivery_missing"),
        (lambda a, d, q: q.pop(f"{T}/0/2"), "dead_letter_missing"),
        (lambda a, d, q: q.update({f"{T}/0/2": 1}), "dead_lettered_twice"),
        (lambda a, d, q: a.append(record("accepted", 1)), "decided_twice"),
    ],
)
def test_each_kind_of_gap_is_named(change: object, gap: str) -> None:
    inputs, audit, delivered, dlq = world()
    change(audit, delivered, dlq)  # type: ignore[operator]
    result = reconcile(inputs, audit, delivered, dlq, {(T, 0): 4})
    assert [g.kind for g in result.gaps] == [gap]


def test_what_a_bridge_dead_lettered_is_counted_by_peer_and_is_no_gap() -> None:
    inputs, audit, delivered, dlq = world()
    result = reconcile(inputs, audit, delivered, dlq, {(T, 0): 4}, from_peers={"province_a": 2})
    assert result.exact
    assert result.from_peers == {"province_a": 2}
    assert result.dead_letters == 1  # the worker's own, counted as before


# The window holds inputs 0..3 (world()); offsets below 0 stand for older inputs.
WINDOW = {f"{T}/0/{n}" for n in range(4)}
D = "govbus.deliver.ps"


def copy(delivery_id: str, offset: int, subscriber: str = "ps") -> Copy:
    return Copy(subscriber, delivery_id, f"{D}/0/{offset}")


def test_deliveries_of_window_inputs_are_not_late() -> None:
    _, audit, _, _ = world()
    assert late_copies([copy("d0ps", 7)], audit, WINDOW) == []


def test_a_delivery_no_window_input_accounts_for_is_late_once() -> None:
    _, audit, _, _ = world()
    late = late_copies([copy("old", 7), copy("old", 9), copy("d0ps", 8)], audit, WINDOW)
    assert late == [copy("old", 7)]


def test_a_late_delivery_is_exact_when_it_is_the_only_copy_since_its_event() -> None:
    late = [copy("old", 7)]
    # An older input the worker reached only inside the window: one copy, no gap.
    assert late_gaps(late, {("ps", "old"): 1}, [], WINDOW) == []


@pytest.mark.parametrize(
    "copies",
    [
        2,  # one before the window, one inside: the zombie's or a rebalance's second commit
        3,
    ],
)
def test_a_late_copy_of_an_older_delivery_is_delivered_twice(copies: int) -> None:
    audit = [
        AuditRecord(
            kind="delivered",
            at="",
            chain="app|x|0",
            seq=9,
            input=f"{T}/0/-5",
            subscriber="ps",
            delivery_id="old",
            event_id="e-old",
        )
    ]
    gaps = late_gaps([copy("old", 7)], {("ps", "old"): copies}, audit, WINDOW)
    assert [(g.kind, g.position, g.event_id) for g in gaps] == [
        ("delivered_twice", f"{D}/0/7", "e-old")
    ]
    assert f"{copies} copies" in gaps[0].detail


def test_an_older_input_decided_twice_inside_the_window_is_named() -> None:
    twice = [record("accepted", -5), record("accepted", -5), record("dead_letter", -6)]
    gaps = late_gaps([], {}, twice, WINDOW)
    assert [(g.kind, g.position) for g in gaps] == [("decided_twice", f"{T}/0/-5")]
    # Decisions on window inputs are reconcile()'s to judge, not counted again here.
    _, audit, _, _ = world()
    assert late_gaps([], {}, [*audit, record("accepted", 1)], WINDOW) == []


def test_since_takes_rfc3339_or_a_span_back() -> None:
    now = dt.datetime(2026, 11, 23, 12, tzinfo=dt.UTC)
    assert parse_since("15m", now) == now - dt.timedelta(minutes=15)
    assert parse_since("2d", now) == now - dt.timedelta(days=2)
    assert parse_since("2026-11-23T10:00:00+08:00", now).utcoffset() == dt.timedelta(hours=8)
    for bad in ("yesterday", "2026-11-23T10:00:00", "15 m"):
        with pytest.raises(typer.BadParameter):
            parse_since(bad, now)

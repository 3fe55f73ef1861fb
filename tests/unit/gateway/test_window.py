"""The gateway's read window: a reader served from memory gets exactly what a Kafka read from
the same positions would give, in arrival order, and nothing from outside the window."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govbus.gateway.window import Window


def test_serves_from_a_position_inside_the_run_in_arrival_order() -> None:
    w: Window[str] = Window(100)
    w.restart({0: 10, 1: 0})
    w.extend(0, [(10, "a"), (12, "b")], 13)  # 11: a transaction marker
    w.extend(1, [(0, "x")], 1)
    w.extend(0, [(13, "c")], 15)
    assert w.take({0: 10, 1: 0}, 10) == [(0, 10, "a"), (0, 12, "b"), (1, 0, "x"), (0, 13, "c")]
    assert w.take({0: 11, 1: 1}, 10) == [(0, 12, "b"), (0, 13, "c")]
    assert w.take({0: 15, 1: 1}, 10) == []  # at the end: nothing yet
    assert w.take({0: 10, 1: 0}, 2) == [(0, 10, "a"), (0, 12, "b")]


def test_positions_outside_the_runs_are_not_covered() -> None:
    w: Window[str] = Window(100)
    assert not w.covers({0: 0})  # no run yet
    assert not w.covers({})  # nothing to read is not a window hit
    w.restart({0: 5})
    w.extend(0, [(5, "a")], 6)
    assert w.covers({0: 5})
    assert w.covers({0: 6})
    assert not w.covers({0: 4})  # before the run: an older replay reads Kafka
    assert not w.covers({0: 7})  # past what was read: unknown ground
    assert not w.covers({0: 5, 1: 0})  # a partition the window does not follow
    with pytest.raises(ValueError, match="outside"):
        w.take({0: 4}, 1)


def test_trimming_keeps_the_newest_and_moves_the_start() -> None:
    w: Window[int] = Window(4)
    w.restart({0: 0})
    w.extend(0, [(i, i) for i in range(6)], 6)  # 6 > 4 + 4 // 4: trimmed to 4
    assert w.runs[0].start == 2
    assert not w.covers({0: 1})
    assert [item for _, _, item in w.take({0: 2}, 10)] == [2, 3, 4, 5]


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 20), st.integers(0, 40), st.integers(0, 3), st.data())
def test_a_reader_at_the_end_keeps_what_an_extend_of_up_to_a_window_adds(
    keep: int, before: int, gap: int, data: st.DataObject
) -> None:
    """The reader whose read extended the window must be served what it fetched, however
    much the trim after it drops (else it reads Kafka directly and runs ahead of the
    window: a second window for one reader, seen in CI)."""
    w: Window[int] = Window(keep)
    w.restart({0: 0})
    w.extend(0, [(i * (gap + 1), i) for i in range(before)], before * (gap + 1))
    position = w.runs[0].end
    added = data.draw(st.integers(1, keep))
    fresh = [(position + gap + i * (gap + 1), i) for i in range(added)]
    w.extend(0, fresh, fresh[-1][0] + 1)
    assert w.covers({0: position})
    assert [(o, item) for _, o, item in w.take({0: position}, keep)] == fresh


def test_records_before_the_end_are_refused() -> None:
    w: Window[str] = Window(10)
    w.restart({0: 5})
    with pytest.raises(ValueError, match="before the run's end"):
        w.extend(0, [(4, "old")], 5)
    with pytest.raises(ValueError, match="at least one"):
        Window(0)


def test_restart_forgets_everything() -> None:
    w: Window[str] = Window(10)
    w.restart({0: 0})
    w.extend(0, [(0, "a")], 1)
    w.restart({0: 50})
    assert w.ends() == {0: 50}
    assert not w.covers({0: 0})
    assert w.take({0: 50}, 5) == []


# A topic: per partition, offsets with gaps (markers); records arrive in chunks that
# interleave the partitions.
chunks = st.lists(
    st.tuples(st.integers(0, 2), st.integers(1, 5), st.integers(0, 2)),  # part, count, gap
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(chunks, st.integers(1, 30), st.lists(st.integers(0, 200), min_size=3, max_size=3))
def test_a_window_read_equals_a_read_of_the_topic(
    plan: list[tuple[int, int, int]], limit: int, probes: list[int]
) -> None:
    keep = 8
    w: Window[tuple[int, int]] = Window(keep)
    w.restart({0: 0, 1: 0, 2: 0})
    log: list[tuple[int, int]] = []  # the topic as read, in arrival order
    next_offset = [0, 0, 0]
    for part, count, gap in plan:
        records = []
        for _ in range(count):
            offset = next_offset[part]
            records.append((offset, (part, offset)))
            log.append((part, offset))
            next_offset[part] = offset + 1 + gap
        w.extend(part, records, next_offset[part])
    for probe in probes:
        positions = {p: min(probe, w.runs[p].end) for p in range(3)}
        if not w.covers(positions):
            assert any(positions[p] < w.runs[p].start for p in range(3))
            continue
        expected = [(p, o) for p, o in log if o >= positions[p]][:limit]
        got = w.take(positions, limit)
        assert [(p, o) for p, o, _ in got] == expected
        assert all(item == (p, o) for p, o, item in got)
    for p in range(3):  # memory stays bounded
        assert len(w.runs[p].items) <= keep + keep // 4

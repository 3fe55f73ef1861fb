"""What the gateway has already read of one department's delivery topic, kept in memory so
that readers at nearby positions (many SSE streams, a pull after another) are served
without a Kafka consumer each. Pure bookkeeping; the Kafka side lives in consume.py.

Per partition the window holds one run: every committed record in [start, end), in offset
order. A reader is served from the window only if, for every partition it reads, its
position lies inside that partition's run; otherwise it reads Kafka directly."""

from __future__ import annotations

import bisect
import heapq
import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass
class Run(Generic[T]):
    start: int
    end: int
    offsets: list[int] = field(default_factory=list)
    seqs: list[int] = field(default_factory=list)  # arrival order across partitions
    items: list[T] = field(default_factory=list)

    def covers(self, position: int) -> bool:
        return self.start <= position <= self.end

    def after(self, position: int) -> Iterator[tuple[int, int, T]]:
        """(seq, offset, item) for every record at or after position."""
        for i in range(bisect.bisect_left(self.offsets, position), len(self.items)):
            yield self.seqs[i], self.offsets[i], self.items[i]

    def trim(self, keep: int) -> None:
        """Keep the newest ``keep`` records; the run then starts just after the newest one
        dropped (what lies between it and the oldest kept is markers, still covered), so a
        reader at the old end still finds every record an extend of up to ``keep`` added."""
        drop = len(self.items) - keep
        if drop <= 0:
            return
        self.start = self.offsets[drop - 1] + 1
        del self.offsets[:drop], self.seqs[:drop], self.items[:drop]


class Window(Generic[T]):
    def __init__(self, per_partition: int) -> None:
        if per_partition < 1:
            raise ValueError("a window holds at least one record per partition")
        self.per_partition = per_partition
        self.runs: dict[int, Run[T]] = {}
        self._seq = itertools.count()

    def covers(self, positions: Mapping[int, int]) -> bool:
        return bool(positions) and all(
            p in self.runs and self.runs[p].covers(pos) for p, pos in positions.items()
        )

    def ends(self) -> dict[int, int]:
        return {p: run.end for p, run in self.runs.items()}

    def restart(self, positions: Mapping[int, int]) -> None:
        """Forget everything and start empty runs at these positions."""
        self.runs = {p: Run(pos, pos) for p, pos in positions.items()}

    def extend(self, partition: int, records: list[tuple[int, T]], end: int) -> None:
        """Append records read from the run's end (offset order); ``end`` is the position
        after them (past any transaction markers read along the way)."""
        run = self.runs[partition]
        for offset, item in records:
            if offset < run.end:
                raise ValueError(f"offset {offset} is before the run's end {run.end}")
            run.offsets.append(offset)
            run.seqs.append(next(self._seq))
            run.items.append(item)
            run.end = offset + 1
        run.end = max(run.end, end)
        # Trim in steps, not on every append, so the list copies stay amortised.
        if len(run.items) > self.per_partition + self.per_partition // 4:
            run.trim(self.per_partition)

    def take(self, positions: Mapping[int, int], limit: int) -> list[tuple[int, int, T]]:
        """Up to ``limit`` (partition, offset, item) after the given positions, in the order
        they arrived across partitions. The positions must be covered."""
        if not self.covers(positions):
            raise ValueError("positions outside the window")
        streams = [self._tagged(p, pos) for p, pos in positions.items()]
        merged = heapq.merge(*streams, key=lambda entry: entry[0])
        return [(p, offset, item) for _, p, offset, item in itertools.islice(merged, limit)]

    def _tagged(self, partition: int, position: int) -> Iterator[tuple[int, int, int, T]]:
        for seq, offset, item in self.runs[partition].after(position):
            yield seq, partition, offset, item

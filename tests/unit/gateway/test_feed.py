"""A department's read window serves what its tail consumer has read; a short page must not
hide what the consumer has since received for other partitions (a reader re-polling one
position would otherwise get the same partial page forever). Fake consumer and decoder:
the window logic only."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from confluent_kafka import Consumer

from govbus.delivery_reader import DeliveryDecoder
from govbus.gateway.consume import DepartmentFeed


class Msg:
    def __init__(self, partition: int, offset: int) -> None:
        self._p, self._o = partition, offset

    def error(self) -> None:
        return None

    def partition(self) -> int:
        return self._p

    def offset(self) -> int:
        return self._o


class Tail:
    """What librdkafka has fetched in the background, handed out by consume()."""

    def __init__(self) -> None:
        self.queued: list[Msg] = []

    def consume(self, n: int, _timeout: float) -> list[Msg]:
        out, self.queued = self.queued[:n], self.queued[n:]
        return out


class Decoder:
    def decode(self, msg: Msg) -> str:
        return f"{msg.partition()}:{msg.offset()}"


def feed(tail: Tail) -> DepartmentFeed:
    decoder = cast(DeliveryDecoder, Decoder())
    out = DepartmentFeed("govbus.deliver.x", cast(Consumer, tail), decoder, per_partition=100)
    out.window.restart({0: 0, 1: 0})
    return out


def items(served: Any) -> list[str]:
    return [item for _, _, item in served]


def test_a_repeated_pull_sees_what_arrived_on_another_partition() -> None:
    tail = Tail()
    department = feed(tail)
    tail.queued = [Msg(0, 0), Msg(0, 1)]
    first = asyncio.run(department.read({0: 0, 1: 0}, limit=10, wait_s=0))
    assert items(first) == ["0:0", "0:1"]
    tail.queued = [Msg(1, 0)]  # arrived after the first page
    again = asyncio.run(department.read({0: 0, 1: 0}, limit=10, wait_s=0))
    assert items(again) == ["0:0", "0:1", "1:0"]


def test_a_full_page_is_served_from_the_window_without_reading() -> None:
    tail = Tail()
    department = feed(tail)
    tail.queued = [Msg(0, 0), Msg(0, 1), Msg(0, 2)]
    assert items(asyncio.run(department.read({0: 0, 1: 0}, limit=2, wait_s=0))) == ["0:0", "0:1"]
    tail.queued = [Msg(1, 0)]
    assert items(asyncio.run(department.read({0: 0, 1: 0}, limit=2, wait_s=0))) == ["0:0", "0:1"]
    assert tail.queued == [tail.queued[0]]  # untouched: a full page needs no read

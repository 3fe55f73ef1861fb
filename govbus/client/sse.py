"""Server-sent events from lines (pure): the fields of each event, comments as keep-alives."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class SseEvent:
    event: str  # "message" when the server named none
    data: str
    id: str | None


KEEPALIVE = SseEvent("keepalive", "", None)


def events(lines: Iterable[str]) -> Iterator[SseEvent]:
    """Parse per the HTML living standard's event-stream rules (the subset a client needs):
    ``data`` lines join with newlines, a blank line dispatches, ``:`` lines are comments
    (yielded as KEEPALIVE, so a reader can act while the stream is quiet); an event
    cut off before its blank line is dropped."""
    name, last_id, seen = "", None, False
    data: list[str] = []
    for line in lines:
        if not line:
            if seen:
                yield SseEvent(name or "message", "\n".join(data), last_id)
            name, data, seen = "", [], False
            continue
        if line.startswith(":"):
            yield KEEPALIVE
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "data":
            data.append(value)
            seen = True
        elif field == "event":
            name, seen = value, True
        elif field == "id" and "\0" not in value:
            last_id, seen = value, True
    # An event not ended by a blank line was cut off: it is not dispatched.

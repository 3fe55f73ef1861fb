"""The subscriber SDK's logic without a gateway: backoff and Retry-After, SSE parsing,
dispatch of corrections and retractions, and the loop's ack/resume rules (over
httpx.MockTransport, a scripted gateway)."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from govbus.client import Backoff, Delivery, Handlers, RefusedError, Subscriber, retry_after_s
from govbus.client.backoff import MAX_RETRY_AFTER_S
from govbus.client.delivery import parse
from govbus.client.sse import KEEPALIVE, SseEvent, events

NOW = dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.UTC)


def test_retry_after_reads_seconds_and_http_dates_and_ignores_garbage() -> None:
    assert retry_after_s("7") == 7.0
    assert retry_after_s(" 0 ") == 0.0
    assert retry_after_s("Wed, 02 Dec 2026 12:00:30 GMT", NOW) == 30.0
    assert retry_after_s("Wed, 02 Dec 2026 11:00:00 GMT", NOW) == 0.0  # in the past
    assert retry_after_s("99999999") == MAX_RETRY_AFTER_S
    for bad in (None, "", "soon", "-3", "1.5", "٣"):
        assert retry_after_s(bad) is None


@given(st.integers(0, 100), st.floats(0, 1), st.one_of(st.none(), st.floats(0, 900)))
def test_backoff_grows_is_capped_and_never_undercuts_retry_after(
    attempt: int, jitter: float, retry_after: float | None
) -> None:
    backoff = Backoff(base_s=0.5, cap_s=30, jitter=lambda: jitter)
    delay = backoff.delay(attempt, retry_after)
    ceiling = min(30.0, 0.5 * 2.0**attempt)
    assert delay >= (retry_after or 0.0)
    assert delay >= ceiling / 2
    assert delay <= max(ceiling, retry_after or 0.0)
    if retry_after is None:
        assert backoff.delay(attempt + 1, None) >= delay or ceiling == 30.0


def test_sse_events_join_data_lines_keep_ids_and_drop_a_cut_off_event() -> None:
    lines = [
        ": ping",
        "event: govbus.delivery",
        "id: c1",
        "data: {",
        'data: "a": 1}',
        "",
        "data:plain",
        "",
        "event: govbus.delivery",
        "data: cut off",
    ]
    assert list(events(lines)) == [
        KEEPALIVE,
        SseEvent("govbus.delivery", '{\n"a": 1}', "c1"),
        SseEvent("message", "plain", "c1"),
    ]


def cloudevent(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": f"d{n}",
        "source": "health",
        "type": "gov.health.death_registered.v1",
        "subject": "s",
        "time": "2026-12-02T12:00:00+00:00",
        "datacontenttype": "application/json",
        "data": {"n": n},
        "govbuscursor": f"c{n}",
        **extra,
    }


def test_corrections_and_retractions_go_to_their_own_callbacks() -> None:
    got: list[tuple[str, str]] = []

    def record(kind: str) -> Callable[[Delivery], None]:
        return lambda d: got.append((kind, d.id))

    handlers = Handlers(record("event"), record("correction"), record("retraction"))
    plain = parse(cloudevent(1), {}, None)
    fixed = parse(cloudevent(2, govbuscorrects="d1", govbusamendment="correction"), {}, None)
    withdrawn = parse(cloudevent(3, govbuscorrects="d1", govbusamendment="retraction"), {}, None)
    for delivery in (plain, fixed, withdrawn):
        handlers(delivery)
    assert got == [("event", "d1"), ("correction", "d2"), ("retraction", "d3")]
    assert fixed.corrects == "d1"
    assert (fixed.event_type, fixed.version) == ("gov.health.death_registered", 1)
    only_events = Handlers(record("event"))
    only_events(withdrawn)
    assert got[-1] == ("event", "d3")
    with pytest.raises(ValueError, match="unknown amendment"):
        parse(cloudevent(4, govbuscorrects="d1", govbusamendment="merge"), {}, None)


class ScriptedGateway:
    """Pages by cursor; records acks; answers from a list of overrides first."""

    def __init__(self, pages: dict[str | None, list[int]]) -> None:
        self.pages = pages
        self.acks: list[str] = []
        self.pulls: list[str | None] = []
        self.overrides: list[httpx.Response] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.overrides:
            return self.overrides.pop(0)
        if request.url.path == "/v1/events/ack":
            self.acks.append(json.loads(request.content)["cursor"])
            return httpx.Response(204)
        cursor = request.url.params.get("cursor")
        self.pulls.append(cursor)
        numbers = self.pages.get(cursor, [])
        after = f"c{numbers[-1]}" if numbers else (cursor or "c0")
        body = {"events": [cloudevent(n) for n in numbers], "cursor": after}
        return httpx.Response(200, json=body)


def subscriber(gw: ScriptedGateway, **kwargs: Any) -> Subscriber:
    http = httpx.Client(base_url="http://gw", transport=httpx.MockTransport(gw))
    return Subscriber("http://gw", "gbk_x_y", http=http, backoff=Backoff(0, 0), **kwargs)


def test_a_failed_callback_acks_what_came_before_it_and_is_retried_from_there() -> None:
    gw = ScriptedGateway({None: [1, 2, 3], "c1": [2, 3], "c3": []})
    seen: list[str] = []
    failed = threading.Event()

    def handle(d: Delivery) -> None:
        if d.id == "d2" and not failed.is_set():
            failed.set()
            raise RuntimeError("database down")
        seen.append(d.id)

    stats = subscriber(gw).run(handle, idle_exit_s=0.2)
    assert seen == ["d1", "d2", "d3"]  # d2 again after the failure, d1 not again
    assert gw.acks == ["c1", "c3"]
    assert gw.pulls[:2] == [None, "c1"]  # resumed from the last ack
    assert stats.errors == 1
    assert stats.handled == 3


def test_a_lost_ack_resumes_from_the_last_ack_so_nothing_is_skipped() -> None:
    gw = ScriptedGateway({"c0": [1, 2], "c2": []})
    gw.overrides = []
    seen: list[str] = []
    sub = subscriber(gw, cursor="c0")
    original = gw.__call__

    lost = {"done": False}

    def losing(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/events/ack" and not lost["done"]:
            lost["done"] = True
            raise httpx.ConnectError("ack lost", request=request)
        return original(request)

    sub.http = httpx.Client(base_url="http://gw", transport=httpx.MockTransport(losing))
    sub.run(lambda d: seen.append(d.id), idle_exit_s=0.2)
    assert seen == ["d1", "d2", "d1", "d2"]  # read again: at-least-once
    assert gw.acks == ["c2"]
    assert sub.cursor == "c2"


def test_429_and_503_wait_at_least_retry_after_and_a_refusal_ends_the_loop() -> None:
    gw = ScriptedGateway({None: [1], "c1": []})
    gw.overrides = [
        httpx.Response(429, headers={"Retry-After": "2"}, json={"detail": "slow down"}),
        httpx.Response(503, headers={"Retry-After": "1"}, json={"detail": "kafka away"}),
    ]
    waits: list[float] = []

    class Recording(threading.Event):
        def wait(self, timeout: float | None = None) -> bool:
            waits.append(timeout or 0.0)
            return False

    sub = subscriber(gw)
    stats = sub.run(lambda d: None, stop=Recording(), idle_exit_s=0.3)
    assert waits == [2.0, 1.0]
    assert stats.handled == 1

    gw.overrides = [httpx.Response(403, json={"type": "no-grant", "detail": "no subscription"})]
    with pytest.raises(RefusedError) as refused:
        sub.run(lambda d: None, idle_exit_s=5)
    assert refused.value.status == 403
    assert refused.value.problem["type"] == "no-grant"


def test_a_look_only_reader_replays_from_a_time_and_never_acks() -> None:
    gw = ScriptedGateway({None: [1, 2], "c2": []})
    since = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    froms: list[str | None] = []
    inner = gw.__call__

    def recording(request: httpx.Request) -> httpx.Response:
        froms.append(request.url.params.get("from_time"))
        return inner(request)

    sub = subscriber(gw, from_time=since, commit=False)
    sub.http = httpx.Client(base_url="http://gw", transport=httpx.MockTransport(recording))
    seen: list[str] = []
    sub.run(lambda d: seen.append(d.id), idle_exit_s=0.2)
    assert seen == ["d1", "d2"]
    assert gw.acks == []
    assert froms[0] == since.isoformat()
    assert set(froms[1:]) == {None}  # from then on, the cursor
    assert sub.cursor == "c2"


def test_until_caught_up_is_asked_at_each_empty_pull_and_ends_the_loop_there() -> None:
    gw = ScriptedGateway({None: [1], "c1": []})
    seen: list[str] = []
    asked: list[list[str]] = []

    def caught_up() -> bool:
        asked.append(list(seen))
        if len(asked) == 1:  # not yet: d2 is still on its way
            gw.pages.update({"c1": [2], "c2": []})
            return False
        return "d2" in seen

    sub = subscriber(gw)
    sub.run(lambda d: seen.append(d.id), until_caught_up=caught_up, idle_exit_s=5)
    assert seen == ["d1", "d2"]
    assert asked == [["d1"], ["d1", "d2"]]  # only when a pull came back empty
    assert gw.pulls == [None, "c1", "c1", "c2"]  # and not one pull more
    assert gw.acks == ["c1", "c2"]  # what was handled is acked before it stops


def test_until_caught_up_on_a_stream_is_asked_at_a_keep_alive_after_the_ack() -> None:
    acks: list[str] = []
    connections: list[str | None] = []

    def gateway(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/events/ack":
            acks.append(json.loads(request.content)["cursor"])
            return httpx.Response(204)
        connections.append(request.headers.get("Last-Event-ID"))
        body = (
            f"event: govbus.delivery\nid: c1\ndata: {json.dumps(cloudevent(1))}\n\n"
            if request.headers.get("Last-Event-ID") is None
            else ""
        ) + ": ping\n\n"
        return httpx.Response(200, text=body, headers={"Content-Type": "text/event-stream"})

    http = httpx.Client(base_url="http://gw", transport=httpx.MockTransport(gateway))
    sub = Subscriber("http://gw", "gbk_x_y", http=http, backoff=Backoff(0, 0))
    seen: list[str] = []
    sub.run(
        lambda d: seen.append(d.id),
        mode="stream",
        until_caught_up=lambda: acks == ["c1"],
        idle_exit_s=5,
    )
    assert seen == ["d1"]
    assert acks == ["c1"]
    assert connections == [None]  # ended at the keep-alive, no reconnect

"""The subscriber SDK's IO: HTTP pull, ack and SSE against the gateway, and the loop that
hands deliveries to your callbacks.

At-least-once, exactly as the gateway's contract: the SDK acknowledges a position only after
every delivery before it was handled. After any failure (the network, the gateway, your
callback) it resumes from the last position it acknowledged -- or, before its first ack,
from the department's last ack at the gateway -- so a delivery may come twice (use
``delivery.id`` to skip what you have) and none is skipped.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from govbus.client.backoff import RETRYABLE_STATUS, Backoff, retry_after_s
from govbus.client.delivery import Delivery, Page, parse, unreadable
from govbus.client.dispatch import Handler, Handlers
from govbus.client.errors import RefusedError, UnavailableError
from govbus.client.sse import events as sse_events
from govbus.schemas.codec import AvroCodec, CodecError

log = logging.getLogger(__name__)
PageHandler = Callable[[Sequence[Delivery]], None]
CaughtUp = Callable[[], bool]  # asked when there is nothing more to read for now


@dataclass
class RunStats:
    handled: int = 0  # callbacks that returned
    acked: int = 0  # acks the gateway accepted
    errors: int = 0  # failures retried (network, gateway, callback)
    last_error: str | None = None


class Subscriber:
    """A department's reader of its deliveries at one gateway. Not thread-safe: one loop."""

    def __init__(
        self,
        gateway: str,
        api_key: str,
        *,
        avro: bool = False,
        decode: bool = True,
        limit: int = 100,
        wait_s: float = 10.0,
        cursor: str | None = None,
        from_time: dt.datetime | None = None,
        commit: bool = True,
        backoff: Backoff | None = None,
        http: httpx.Client | None = None,
        on_ack: Callable[[str], None] | None = None,
    ) -> None:
        """``cursor``: where to start (a cursor you saved, e.g. from ``on_ack``); None starts
        after the department's last ack at the gateway. ``avro``: ask for the Avro bytes
        and decode them with the delivery schemas the gateway serves. ``decode=False``: pass
        events on undecoded (``data`` empty, the event whole in ``cloudevent``; one that does
        not parse comes with its ``problem`` instead of failing the page). ``from_time``:
        without a cursor, replay from this time. ``commit=False``: read without acking at
        the gateway (a reader that only looks, beside another that acks); the position is
        kept in ``cursor`` here only."""
        self.avro = avro
        self.decode = decode
        self.limit = limit
        self.wait_s = wait_s
        self.cursor = cursor  # the last position acknowledged (None: the gateway's)
        self.from_time = from_time
        self.commit = commit
        self.backoff = backoff or Backoff()
        self.on_ack = on_ack
        self._owns_http = http is None
        self.http = http or httpx.Client(base_url=gateway, timeout=wait_s + 30)
        self.headers = {"X-API-Key": api_key, "Accept": "application/json"}
        self.stats = RunStats()
        self._codec = AvroCodec()

    def close(self) -> None:
        if self._owns_http:
            self.http.close()

    def __enter__(self) -> Subscriber:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- one request each ---------------------------------------------------------------

    def pull(self, cursor: str | None = None, *, wait_s: float | None = None) -> Page:
        """One page after ``cursor`` (None: after the department's last ack)."""
        params: dict[str, Any] = {"limit": self.limit, "wait": self.wait_s}
        if self.avro:  # JSON pages whose events carry their Avro bytes in data_base64
            params["data"] = "avro"
        if wait_s is not None:
            params["wait"] = wait_s
        if cursor:
            params["cursor"] = cursor
        elif self.from_time is not None:
            params["from_time"] = self.from_time.isoformat()
        response = self._request("GET", "/v1/events", params=params)
        body = response.json()
        return Page([self._delivery(e) for e in body["events"]], str(body["cursor"]))

    def ack(self, cursor: str) -> None:
        """Record at the gateway that everything up to ``cursor`` was handled (with
        ``commit=False``: only here)."""
        if self.commit:
            self._request("POST", "/v1/events/ack", json={"cursor": cursor})
            self.stats.acked += 1
        self.cursor = cursor
        if self.on_ack is not None:
            self.on_ack(cursor)

    def stream(self, cursor: str | None = None) -> Iterator[Delivery | None]:
        """One SSE connection from ``cursor``: deliveries as they come, and None at every
        keep-alive (so a loop can act while the stream is quiet). Ends when the gateway
        ends the stream; raises RefusedError or UnavailableError as ``pull`` does."""
        headers = dict(self.headers)
        if cursor:
            headers["Last-Event-ID"] = cursor
        try:
            with self.http.stream(
                "GET", "/v1/events/stream", headers=headers, timeout=httpx.Timeout(60, read=60)
            ) as response:
                if response.status_code >= 400:
                    response.read()
                    self._raise_for(response)
                for event in sse_events(response.iter_lines()):
                    if event.event == "govbus.delivery":
                        yield self._delivery(json.loads(event.data))
                    elif event.event == "govbus.error":
                        problem = json.loads(event.data)
                        status = int(problem.get("status", 503))
                        if status in RETRYABLE_STATUS:
                            raise UnavailableError(f"stream ended: {problem.get('detail')}")
                        raise RefusedError(status, problem)
                    else:
                        yield None
        except httpx.HTTPError as exc:
            raise UnavailableError(f"stream: {exc}") from None

    # -- the loops ----------------------------------------------------------------------

    def run(
        self,
        handlers: Handlers | Handler,
        *,
        mode: Literal["pull", "stream"] = "pull",
        stop: threading.Event | None = None,
        idle_exit_s: float | None = None,
        until_caught_up: CaughtUp | None = None,
        ack_interval_s: float = 1.0,
    ) -> RunStats:
        """Hand every delivery to ``handlers`` (one callback, or Handlers with typed ones
        for corrections and retractions) until ``stop`` is set, ``idle_exit_s`` passed
        without a delivery, ``until_caught_up`` returned True, or the gateway refuses for
        good (RefusedError is raised). Each position is acked once every delivery before it
        was handled.

        ``until_caught_up`` is asked each time the subscriber has read everything there is
        for now -- a pull that came back empty, or a keep-alive on a quiet stream -- after
        what was handled is acked: ``lambda: True`` reads up to now and returns (a batch
        job); a predicate over what your callbacks saw waits for what you expect."""
        if mode == "stream":
            return self._run_stream(
                handlers, stop or threading.Event(), idle_exit_s, until_caught_up, ack_interval_s
            )

        def each(page: Sequence[Delivery]) -> None:
            for delivery in page:
                try:
                    handlers(delivery)
                except Exception:
                    self._ack_before(page, delivery)
                    raise
                self.stats.handled += 1

        return self.run_pages(
            each, stop=stop, idle_exit_s=idle_exit_s, until_caught_up=until_caught_up
        )

    def run_pages(
        self,
        handler: PageHandler,
        *,
        stop: threading.Event | None = None,
        idle_exit_s: float | None = None,
        until_caught_up: CaughtUp | None = None,
        on_progress: Callable[[], None] | None = None,
    ) -> RunStats:
        """Like ``run``, a page at a time: ``handler`` gets each non-empty page and the page
        is acked once it returns. ``on_progress`` is called after every pull that went
        through (a liveness heartbeat)."""
        stop = stop or threading.Event()
        failures = 0
        idle_since = time.monotonic()
        read_from = self.cursor
        while not stop.is_set():
            try:
                page = self.pull(read_from)
                if page.deliveries:
                    handler(page.deliveries)
                    self.ack(page.cursor)
                    idle_since = time.monotonic()
                read_from = page.cursor
                failures = 0
                if on_progress is not None:
                    on_progress()
                if not page.deliveries and until_caught_up is not None and until_caught_up():
                    break
            except RefusedError:
                raise
            except Exception as exc:  # the network, the gateway, a callback
                read_from = self.cursor
                self._failed(exc, failures, stop)
                failures += 1
            if idle_exit_s is not None and time.monotonic() - idle_since > idle_exit_s:
                break
        return self.stats

    def _run_stream(
        self,
        handlers: Handlers | Handler,
        stop: threading.Event,
        idle_exit_s: float | None,
        until_caught_up: CaughtUp | None,
        ack_interval_s: float,
    ) -> RunStats:
        failures = 0
        idle_since = time.monotonic()
        caught_up = False
        while not stop.is_set() and not caught_up:
            handled: str | None = None  # the position after the last delivery handled
            acked_at = time.monotonic()
            try:
                for delivery in self.stream(self.cursor):
                    if delivery is not None:
                        handlers(delivery)
                        self.stats.handled += 1
                        handled, idle_since, failures = delivery.cursor, time.monotonic(), 0
                    due = time.monotonic() - acked_at >= ack_interval_s
                    if handled is not None and handled != self.cursor and (due or delivery is None):
                        self.ack(handled)
                        acked_at = time.monotonic()
                    # A keep-alive: the stream had nothing more to send.
                    caught_up = (
                        delivery is None and until_caught_up is not None and until_caught_up()
                    )
                    if (
                        caught_up
                        or stop.is_set()
                        or (idle_exit_s is not None and time.monotonic() - idle_since > idle_exit_s)
                    ):
                        break
                if handled is not None and handled != self.cursor:
                    self.ack(handled)
                if idle_exit_s is not None and time.monotonic() - idle_since > idle_exit_s:
                    break
            except RefusedError:
                raise
            except Exception as exc:  # the network, the gateway, a callback
                try:
                    if handled is not None and handled != self.cursor:
                        self.ack(handled)  # keep what was handled before the failure
                except (UnavailableError, RefusedError):
                    pass
                self._failed(exc, failures, stop)
                failures += 1
        return self.stats

    # -- helpers ------------------------------------------------------------------------

    def _ack_before(self, page: Sequence[Delivery], failed: Delivery) -> None:
        """A callback failed on ``failed``: keep what was handled before it."""
        index = next(i for i, d in enumerate(page) if d is failed)
        if index > 0:
            self.ack(page[index - 1].cursor)

    def _failed(self, exc: Exception, failures: int, stop: threading.Event) -> None:
        self.stats.errors += 1
        self.stats.last_error = f"{type(exc).__name__}: {exc}"[:300]
        retry_after = exc.retry_after_s if isinstance(exc, UnavailableError) else None
        delay = self.backoff.delay(failures, retry_after)
        log.warning(
            "govbus subscriber: retrying", extra={"error": self.stats.last_error, "in_s": delay}
        )
        stop.wait(delay)

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self.http.request(method, path, headers=self.headers, **kwargs)
        except httpx.HTTPError as exc:
            raise UnavailableError(f"{method} {path}: {exc}") from None
        if response.status_code >= 400:
            self._raise_for(response)
        return response

    def _raise_for(self, response: httpx.Response) -> None:
        try:
            problem = response.json()
        except ValueError:
            problem = {"detail": response.text[:200]}
        if not isinstance(problem, dict):
            problem = {"detail": str(problem)[:200]}
        status = response.status_code
        if status in RETRYABLE_STATUS:
            raise UnavailableError(
                f"gateway answered {status}: {problem.get('detail')}",
                retry_after_s(response.headers.get("Retry-After")),
            )
        raise RefusedError(status, problem)

    def _delivery(self, event: Mapping[str, Any]) -> Delivery:
        if not self.decode:
            try:
                return parse(event, {}, None)
            except (KeyError, ValueError, TypeError) as exc:
                return unreadable(event, f"{type(exc).__name__}: {exc}")
        if "data_base64" not in event:
            return parse(event, event.get("data") or {}, None)
        import base64  # noqa: PLC0415 - only Avro readers need it

        raw = base64.b64decode(str(event["data_base64"]), validate=True)
        return parse(event, self._decode(raw), raw)

    def _decode(self, raw: bytes) -> dict[str, Any]:
        fp = self._codec.fingerprint_of(raw)
        if self._codec.schema(fp) is None:
            schema = self._request("GET", f"/v1/schemas/{fp.hex()}").json()
            self._codec.register(schema)
        try:
            return dict(self._codec.decode(raw)[1])
        except CodecError as exc:
            raise UnavailableError(f"cannot decode a delivery: {exc}") from None

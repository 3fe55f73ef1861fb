"""The subscriber examples, run as docs/subscriber-sdk.md tells a department to, against the
real gateway, worker and Kafka with a real key.

examples/curl.sh pulls the page after the department's last ack, acks its cursor (the next
pull starts after it), replays from a time without moving the ack, and follows the live
stream, whose event ids are cursors to resume from. examples/subscriber_sdk.py hands an
event and its correction to their own callbacks, acks them, and stops on SIGTERM."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from govbus.adapters.publisher import Publisher
from govbus.config import ConnectionSettings, GatewaySettings
from govbus.gateway.keystore import KeyStore
from govbus_devtools.demo.sample_data import birth
from tests.integration.helpers import birth_subscription, start_worker
from tests.integration.test_gateway import Gateway
from tests.keys import delivery_id

ROOT = Path(__file__).resolve().parents[2]
BIRTH = "gov.health.birth_registered"
FOLLOW_S = 30  # how long the script follows the stream


@pytest.fixture
def department(
    runtime: ConnectionSettings,
    bootstrap: str,
    uid: str,
    state_dir: Path,
    worker_env: dict[str, str],
    tmp_path: Path,
) -> Iterator[dict[str, str]]:
    """A new department (nothing read or acked yet) whose worker delivers it births."""
    worker = start_worker(
        bootstrap, uid, state_dir, worker_env, tmp_path, [birth_subscription(uid)], from_end=True
    )
    settings = GatewaySettings(rate_limit_per_minute=10_000)
    keys = KeyStore(runtime.pg, settings.api_key_pepper.get_secret_value().encode())
    keys.init()
    dept = f"ps_{uid}"
    try:
        with Gateway(runtime, settings) as gw:
            yield {"url": gw.url, "dept": dept, "key": keys.issue(dept, ["subscriber"])}
    finally:
        worker.stop()


def pull(dept: dict[str, str], **params: Any) -> dict[str, Any]:
    """A page as the gateway serves it (the test's own look; it never acks)."""
    page = httpx.get(
        f"{dept['url']}/v1/events",
        params={"limit": 100, **params},
        headers={"X-API-Key": dept["key"]},
        timeout=60,
    )
    page.raise_for_status()
    body: dict[str, Any] = page.json()
    return body


def ids(page: dict[str, Any]) -> list[str]:
    return [e["id"] for e in page["events"]]


def sse_deliveries(text: str) -> list[tuple[str, dict[str, Any]]]:
    """(id, CloudEvent) of each govbus.delivery event in a server-sent event stream."""
    found = []
    for block in text.split("\n\n"):
        fields = dict(line.partition(": ")[::2] for line in block.splitlines() if ": " in line)
        if fields.get("event") == "govbus.delivery":
            found.append((fields["id"], json.loads(fields["data"])))
    return found


class Example:
    """An example running as a process: its output lines as they come, its errors apart
    (in a file: a pipe nobody reads could fill); killed if still running on exit."""

    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        self._errors = tempfile.TemporaryFile("w+")  # noqa: SIM115 - closed in __exit__
        self.proc = subprocess.Popen(
            command,
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=self._errors,
            text=True,
        )
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()

    @property
    def output(self) -> str:
        with self._changed:
            return "".join(self.lines)

    def wait_for(self, printed: Callable[[str], bool], timeout_s: float) -> bool:
        """Until the output so far satisfies ``printed`` (False after the timeout)."""
        with self._changed:
            return self._changed.wait_for(lambda: printed("".join(self.lines)), timeout_s)

    def finish(self, timeout_s: float) -> int:
        """Its exit code, once it ended by itself and all its output was read."""
        code = self.proc.wait(timeout_s)
        self._reader.join(10)
        return code

    def errors(self) -> str:
        self._errors.seek(0)
        return self._errors.read()[-3000:]

    def __enter__(self) -> Example:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._errors.close()


def test_the_curl_example_pulls_acks_replays_and_follows(
    department: dict[str, str], uid: str
) -> None:
    rng = random.Random(uid)
    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    # One event, so on one partition: a page may hold only part of what is there on
    # several (a client pulls on from the cursor), and the script pulls once.
    births = [birth(rng, dt.date.today())]
    with Publisher("health") as pub:
        first = [pub.publish(BIRTH, b).result(60).event_id for b in births]
    mine = [delivery_id(department["dept"], "health", e) for e in first]
    # Delivered before the script runs, so its one long-poll has it.
    deadline = time.monotonic() + 180
    while set(ids(pull(department, wait=5))) != set(mine):
        assert time.monotonic() < deadline, "the worker did not deliver"

    with Example(
        ["bash", str(ROOT / "examples" / "curl.sh")],
        {
            "GOVBUS_GATEWAY_URL": department["url"],
            "GOVBUS_API_KEY": department["key"],
            "REPLAY_FROM": before.isoformat(),
            "FOLLOW_S": str(FOLLOW_S),
        },
    ) as script:
        assert script.wait_for(lambda out: "\nacked " in f"\n{out}", 60), script.output
        # Published after the ack: it can only reach the script through the live stream.
        live = birth(rng, dt.date.today())
        with Publisher("health") as pub:
            later = pub.publish(BIRTH, live).result(60).event_id
        assert script.finish(FOLLOW_S + 60) == 0, script.errors()
    lines, out = script.lines, script.output
    later_id = delivery_id(department["dept"], "health", later)

    # 1. The page after the last ack (none yet: from the start), one JSON line each.
    pulled = [json.loads(line) for line in lines if line.startswith('{"id"')]
    assert [p["id"] for p in pulled] == mine
    assert [p["data"]["certificate_no"] for p in pulled] == [b["certificate_no"] for b in births]
    assert all(p["type"].startswith(f"{BIRTH}.v") for p in pulled)
    # 2. The ack: the department's next pull starts after that page (the stream in 4 acks
    # nothing), exactly as a pull from the acked cursor does.
    cursor = next(line.split()[1] for line in lines if line.startswith("acked "))
    assert ids(pull(department)) == ids(pull(department, cursor=cursor)) == [later_id]
    # 3. The replay from before the first publication reads it again.
    replayed = [json.loads(line)["replayed"] for line in lines if line.startswith('{"replayed"')]
    assert set(mine) <= set(replayed) <= {*mine, later_id}
    # 4. The live stream: only what came after the ack, i.e. the event published then; its
    # SSE id is the cursor after it.
    streamed = sse_deliveries(out)
    assert [e["id"] for _, e in streamed] == [later_id], out
    [(sse_id, event)] = streamed
    assert event["data"]["certificate_no"] == live["certificate_no"]
    assert ids(pull(department, cursor=sse_id)) == []  # nothing after it


def test_the_sdk_example_hands_out_an_event_and_its_correction_acks_and_stops(
    department: dict[str, str], uid: str
) -> None:
    rng = random.Random(uid)
    original = birth(rng, dt.date.today())
    fixed = {**original, "birth_date": original["birth_date"] - dt.timedelta(days=1)}
    with Publisher("health") as pub:
        first = pub.publish(BIRTH, original).result(60).event_id
        fix = pub.publish(BIRTH, fixed, corrects=first).result(60).event_id
    own, own_fix = (delivery_id(department["dept"], "health", e) for e in (first, fix))

    with Example(
        [sys.executable, str(ROOT / "examples" / "subscriber_sdk.py")],
        {
            "GOVBUS_GATEWAY_URL": department["url"],
            "GOVBUS_API_KEY": department["key"],
            "PYTHONUNBUFFERED": "1",  # its lines as they come, through the pipe
        },
    ) as example:
        printed = example.wait_for(lambda out: f" {own}: " in out and own_fix in out, 180)
        assert printed, example.output
        example.proc.send_signal(signal.SIGTERM)  # the example's way to stop
        assert example.finish(60) == 0, example.errors()
    lines = example.lines
    event = next(line for line in lines if f" {own}: " in line)
    assert event.startswith(f"{BIRTH}.v")
    assert original["certificate_no"] in event
    correction = next(line for line in lines if line.startswith(f"{own_fix} "))
    assert correction.startswith(f"{own_fix} replaces {own}: ")  # its own callback
    assert original["certificate_no"] in correction
    # Acked after the callbacks: the department's next pull has neither.
    assert not {own, own_fix} & set(ids(pull(department)))

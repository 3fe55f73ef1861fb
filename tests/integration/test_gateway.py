"""The gateway over real HTTP (uvicorn on localhost) with real Kafka, Redis and PostgreSQL:
pull/ack/replay/SSE for the authorized department, and precise refusals for everything else."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from govbus.adapters.publisher import Publisher
from govbus.audit_log import read_audit
from govbus.config import ConnectionSettings, GatewaySettings
from govbus.delivery_reader import DeliveryDecoder
from govbus.gateway import cursor as cursors
from govbus.gateway.app import create_app
from govbus.gateway.consume import Consumption
from govbus.gateway.keystore import KeyStore
from govbus_devtools.demo.sample_data import birth
from govbus_devtools.devenv.process import free_port
from tests.corpus import X_ID, non_canonical_forms
from tests.integration.helpers import birth_subscription, start_worker, wait_until
from tests.keys import delivery_id

BIRTH = "gov.health.birth_registered"
PROBLEM = "application/problem+json"
ISSUER = "https://idp.example.test"


class Gateway:
    def __init__(
        self, conn: ConnectionSettings, settings: GatewaySettings, log_level: str = "warning"
    ) -> None:
        self.port = free_port()
        self.app = create_app(conn, settings)
        self.server = uvicorn.Server(
            uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level=log_level)
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Gateway:
        self.thread.start()
        assert wait_until(lambda: self.server.started, 30, 0.1)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


@pytest.fixture(scope="module")
def rsa_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path_factory.mktemp("jwt") / "idp.pem"
    path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return key, path


@pytest.fixture
def setup(
    runtime: ConnectionSettings,
    bootstrap: str,
    uid: str,
    state_dir: Path,
    worker_env: dict[str, str],
    tmp_path: Path,
    rsa_key: tuple[Any, Path],
) -> Iterator[dict[str, Any]]:
    dept = f"ps_{uid}"
    worker = start_worker(
        bootstrap,
        uid,
        state_dir,
        worker_env,
        tmp_path,
        [birth_subscription(uid, {"certificate_no": "clear", "baby_name": "mask"})],
    )
    settings = GatewaySettings(
        jwt_public_keys=[rsa_key[1]], jwt_issuer=ISSUER, rate_limit_per_minute=10_000
    )
    keys = KeyStore(runtime.pg, settings.api_key_pepper.get_secret_value().encode())
    keys.init()
    try:
        with Gateway(runtime, settings) as gw:
            yield {
                "bootstrap": bootstrap,
                "dept": dept,
                "gw": gw,
                "keys": keys,
                "uid": uid,
                "key": keys.issue(dept, ["subscriber"]),
                "settings": settings,
            }
    finally:
        worker.stop()


def publish(n: int, seed: str) -> list[str]:
    rng = random.Random(seed)
    with Publisher("health") as pub:
        return [
            pub.publish(BIRTH, birth(rng, dt.date.today())).result(30).event_id for _ in range(n)
        ]


def pull_until(
    gw: Gateway,
    key: str,
    ids: set[str],
    cursor: str | None = None,
    timeout_s: float = 180,
    from_time: str | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[list[dict[str, Any]], str]:
    """Page through the subscriber's deliveries until every id in ``ids`` was served."""
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout_s
    while not ids <= {e["id"] for e in got} and time.monotonic() < deadline:
        # The worker of a new app also delivers older events: read in full pages.
        params: dict[str, Any] = {"limit": 500, "wait": 1}
        if cursor:
            params["cursor"] = cursor
        elif from_time:
            params["from_time"] = from_time
        r = httpx.get(
            f"{gw.url}/v1/events",
            params=params,
            headers={"X-API-Key": key, **(headers or {})},
            timeout=30,
        )
        assert r.status_code == 200, r.text
        got += r.json()["events"]
        cursor = r.json()["cursor"]
    return got, cursor or ""


def test_pull_ack_and_replay(bootstrap: str, setup: dict[str, Any]) -> None:
    gw, key, dept = setup["gw"], setup["key"], setup["dept"]
    published = publish(3, setup["uid"])
    ids = {delivery_id(dept, "health", e) for e in published}
    events, cursor = pull_until(gw, key, ids)
    ours = [e for e in events if e["id"] in ids]
    assert len(ours) == 3
    assert set(ours[0]["data"]) == {"certificate_no", "baby_name"}
    assert ours[0]["data"]["baby_name"].endswith("*")
    assert ours[0]["type"] == "gov.health.birth_registered.v2"
    assert ours[0]["specversion"] == "1.0"
    r = httpx.post(f"{gw.url}/v1/events/ack", json={"cursor": cursor}, headers={"X-API-Key": key})
    assert r.status_code == 204
    r = httpx.get(
        f"{gw.url}/v1/events", params={"limit": 100}, headers={"X-API-Key": key}, timeout=30
    )
    assert r.status_code == 200
    assert not {e["id"] for e in r.json()["events"]} & ids  # acked: not served again
    since = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)).isoformat()
    replayed, _ = pull_until(gw, key, ids, from_time=since)
    assert ids <= {e["id"] for e in replayed}  # replay from a time serves them again
    assert wait_until(
        lambda: (
            ids
            <= {
                r.delivery_id
                for r in read_audit(bootstrap)
                if r.kind == "read" and r.subscriber == dept
            }
        ),
        30,
    )
    # Ops follow one event: accepted, delivered (fields, masks), read by the department.
    out = subprocess.run(
        [sys.executable, "-m", "govbus.cli.main", "trace", published[0]],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "250"},
    )
    assert out.returncode == 0, out.stderr
    for expected in ("accepted", "delivered", "read", dept, "baby_name:mask", "/trace/"):
        assert expected in out.stdout, (expected, out.stdout[-2000:])


def test_sse_reconnect_with_last_event_id_misses_nothing(setup: dict[str, Any]) -> None:
    gw, key, dept = setup["gw"], setup["key"], setup["dept"]
    first = {delivery_id(dept, "health", e) for e in publish(2, setup["uid"] + "a")}
    seen: list[dict[str, Any]] = []
    last_id = None

    def read_stream(want: set[str], last: str | None) -> str | None:
        headers = {"X-API-Key": key, **({"Last-Event-ID": last} if last else {})}
        with httpx.stream("GET", f"{gw.url}/v1/events/stream", headers=headers, timeout=60) as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/event-stream")
            event_id = None
            for line in r.iter_lines():
                if line.startswith("id:"):
                    event_id = line[3:].strip()
                elif line.startswith("data:"):
                    seen.append(json.loads(line[5:]))
                    last = event_id
                    if want <= {e["id"] for e in seen}:
                        return last
        return last

    last_id = read_stream(first, None)
    second = {delivery_id(dept, "health", e) for e in publish(2, setup["uid"] + "b")}
    before = len(seen)
    read_stream(second, last_id)
    after_reconnect = [e["id"] for e in seen[before:]]
    assert second <= set(after_reconnect)
    assert not set(after_reconnect) & first, "replayed events the client had already seen"
    assert len(after_reconnect) == len(set(after_reconnect))


def test_concurrent_readers_each_get_every_delivery_once(
    runtime: ConnectionSettings, setup: dict[str, Any]
) -> None:
    """Many readers of one department at once: SSE streams and pulls, from its start. With a
    tiny window, some are served from memory and some read Kafka directly as the window
    moves past them; each gets every delivery exactly once, in partition order."""
    key, dept = setup["key"], setup["dept"]
    ours = {delivery_id(dept, "health", e) for e in publish(40, setup["uid"] + "c")}
    settings = setup["settings"].model_copy(update={"window_events": 5})

    async def sse(client: httpx.AsyncClient) -> list[dict[str, Any]]:
        got: list[dict[str, Any]] = []
        async with client.stream("GET", "/v1/events/stream", headers={"X-API-Key": key}) as r:
            assert r.status_code == 200
            async for line in r.aiter_lines():
                if line.startswith("data:"):
                    got.append(json.loads(line[5:]))
                    if ours <= {e["id"] for e in got}:
                        return got
        return got

    async def pull(client: httpx.AsyncClient) -> list[dict[str, Any]]:
        got: list[dict[str, Any]] = []
        params: dict[str, Any] = {"limit": 7, "wait": 1}
        while not ours <= {e["id"] for e in got}:
            r = await client.get("/v1/events", params=params, headers={"X-API-Key": key})
            assert r.status_code == 200, r.text
            got += r.json()["events"]
            params["cursor"] = r.json()["cursor"]
        return got

    async def everyone(url: str) -> list[list[dict[str, Any]]]:
        async with httpx.AsyncClient(base_url=url, timeout=120) as client:
            readers = [sse(client) for _ in range(12)] + [pull(client) for _ in range(4)]
            return await asyncio.wait_for(asyncio.gather(*readers), 240)

    with Gateway(runtime, settings) as gw:
        results = asyncio.run(everyone(gw.url))
    reads = gw.server.config.app.state.services.consumption.reads
    assert reads["window"] > 0, reads  # the shared window really served readers
    for got in results:
        ids = [e["id"] for e in got]
        assert ours <= set(ids)
        assert len(ids) == len(set(ids)), "a delivery served twice to one reader"
        offsets = cursors.decode(got[0]["govbuscursor"], 1024)
        for event in got[1:]:  # each cursor moves one partition forward, never back
            after = cursors.decode(event["govbuscursor"], 1024)
            moved = [p for p, o in after.items() if offsets[p] != o]
            assert len(moved) == 1, (offsets, after)
            assert after[moved[0]] > offsets[moved[0]], (offsets, after)
            offsets = after


def test_a_replay_behind_a_busy_window_opens_a_window_of_its_own(
    runtime: ConnectionSettings, setup: dict[str, Any]
) -> None:
    """One reader follows the tail: its window moves on and trims what lies behind. A replay
    from the start must not then read Kafka directly page after page (what 100 SSE streams
    from the start did, measured in docs/benchmarks.md): it gets a second window."""
    dept = setup["dept"]
    ours = {delivery_id(dept, "health", e) for e in publish(60, setup["uid"] + "w")}
    consumption = Consumption(runtime.bootstrap, DeliveryDecoder(runtime.bootstrap), 10)

    async def scenario() -> None:
        seen: set[str] = set()
        cursor = None
        deadline = time.monotonic() + 180
        while not ours <= seen and time.monotonic() < deadline:
            page = await consumption.pull(dept, cursor=cursor, limit=500, wait_s=1)
            seen |= {item.envelope.id for item, _ in page.events}
            cursor = page.cursor
        assert ours <= seen
        (tail,) = consumption._feeds[dept]
        assert any(run.start > 0 for run in tail.window.runs.values())  # trimmed behind
        direct_reads = consumption.reads["kafka"]
        replay = await consumption.pull(dept, cursor=None, limit=5, wait_s=0)
        assert replay.events
        assert consumption.reads["kafka"] == direct_reads
        assert len(consumption._feeds[dept]) == 2

    try:
        asyncio.run(scenario())
    finally:
        consumption.close()


def problem(r: httpx.Response, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    body = r.json()
    assert body["status"] == status
    assert body["type"].endswith(code)
    assert "Traceback" not in r.text


def token(key: Any, **claims: Any) -> str:
    now = int(time.time())
    body = {
        "sub": "ps-app",
        "aud": "govbus",
        "iss": ISSUER,
        "exp": now + 300,
        "iat": now,
        "roles": ["subscriber"],
        **claims,
    }
    return jwt.encode(body, key, algorithm="RS256")


def test_refusals_are_precise_problems(setup: dict[str, Any], rsa_key: tuple[Any, Path]) -> None:
    gw, keys, dept, uid = setup["gw"], setup["keys"], setup["dept"], setup["uid"]
    url = f"{gw.url}/v1/events"
    problem(httpx.get(url), 401, "unauthorized")
    problem(httpx.get(url, headers={"X-API-Key": "gbk_nope_nope"}), 401, "unauthorized")
    problem(httpx.get(url, headers={"X-API-Key": setup["key"] + "x"}), 401, "unauthorized")
    revoked = keys.issue(dept, ["subscriber"])
    keys.revoke(revoked.split("_")[1])
    problem(httpx.get(url, headers={"X-API-Key": revoked}), 401, "unauthorized")
    publisher_only = keys.issue(dept, ["publisher"])
    problem(httpx.get(url, headers={"X-API-Key": publisher_only}), 403, "forbidden")
    # Another department cannot name this one's topic: there is no such parameter, and the
    # gateway answers for the caller's own (absent) subscription only.
    other = keys.issue(f"tax_{uid}", ["subscriber"])
    r = httpx.get(
        url,
        params={"topic": f"govbus.deliver.{dept}", "subscriber": dept},
        headers={"X-API-Key": other},
    )
    problem(r, 404, "no-subscription")
    assert dept not in r.json()["detail"]
    problem(
        httpx.get(url, params={"cursor": "!!not-a-cursor!!"}, headers={"X-API-Key": setup["key"]}),
        400,
        "bad-cursor",
    )
    problem(
        httpx.get(url, params={"limit": 5000}, headers={"X-API-Key": setup["key"]}),
        422,
        "limit-too-large",
    )
    problem(
        httpx.get(url, params={"limit": "many"}, headers={"X-API-Key": setup["key"]}),
        422,
        "invalid-request",
    )
    problem(
        httpx.post(
            f"{url}/ack",
            content=b"x" * 300_000,
            headers={"X-API-Key": setup["key"], "Content-Type": "application/json"},
        ),
        413,
        "body-too-large",
    )

    key, _ = rsa_key
    good = token(key, department=dept)
    assert httpx.get(url, headers={"Authorization": f"Bearer {good}"}).status_code == 200
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    bad_tokens = {
        "forged": token(other_key, department=dept),
        "expired": token(key, department=dept, exp=int(time.time()) - 600),
        "not yet valid": token(key, department=dept, nbf=int(time.time()) + 600),
        "wrong issuer": token(key, department=dept, iss="https://evil.test"),
        "wrong audience": token(key, department=dept, aud="someone-else"),
        "alg none": jwt.encode(
            {
                "sub": "x",
                "aud": "govbus",
                "iss": ISSUER,
                "exp": int(time.time()) + 300,
                "department": dept,
            },
            None,
            algorithm="none",
        ),
        "alg confusion": _hs256_with_public_key(rsa_key[1], dept),
    }
    for name, bad in bad_tokens.items():
        r = httpx.get(url, headers={"Authorization": f"Bearer {bad}"})
        assert r.status_code == 401, name
        problem(r, 401, "unauthorized")


def _hs256_with_public_key(public_pem: Path, dept: str) -> str:
    """The classic algorithm-confusion forgery: HMAC-signed with the RSA public key."""
    import base64  # noqa: PLC0415
    import hashlib  # noqa: PLC0415
    import hmac  # noqa: PLC0415

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(
        json.dumps(
            {
                "sub": "x",
                "aud": "govbus",
                "iss": ISSUER,
                "department": dept,
                "exp": int(time.time()) + 300,
                "roles": ["subscriber"],
            }
        ).encode()
    )
    signature = hmac.new(public_pem.read_bytes(), f"{header}.{body}".encode(), hashlib.sha256)
    return f"{header}.{body}.{b64(signature.digest())}"


def test_health_readiness_and_openapi(setup: dict[str, Any]) -> None:
    gw = setup["gw"]
    assert httpx.get(f"{gw.url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{gw.url}/readyz").json() == {"status": "ready"}
    spec = httpx.get(f"{gw.url}/openapi.json").json()
    assert {"/v1/events", "/v1/events/ack", "/v1/events/stream"} <= set(spec["paths"])
    problem(httpx.get(f"{gw.url}/v1/nothing-here"), 404, "not-found")


def inside_one_window(window_s: int, need_s: float) -> None:
    """The limits use fixed windows: start only when ``need_s`` remain in the current one,
    so the requests of a test cannot straddle a window boundary."""
    left = window_s - time.time() % window_s
    if left < need_s:
        time.sleep(left + 0.5)


def test_http_publish_is_validated_owned_and_idempotent(setup: dict[str, Any]) -> None:
    gw, keys, dept, uid = setup["gw"], setup["keys"], setup["dept"], setup["uid"]
    health = keys.issue("health", ["publisher"])
    data = birth(random.Random(uid), dt.date.today())
    body = json.loads(json.dumps(data, default=str))
    url = f"{gw.url}/v1/publish/{BIRTH}"
    first = httpx.post(
        url, json=body, headers={"X-API-Key": health, "Idempotency-Key": f"hc-{uid}"}, timeout=60
    )
    assert first.status_code == 202, first.text
    again = httpx.post(
        url, json=body, headers={"X-API-Key": health, "Idempotency-Key": f"hc-{uid}"}, timeout=60
    )
    assert again.json()["id"] == first.json()["id"] == f"hc-{uid}"
    wanted = delivery_id(dept, "health", f"hc-{uid}")
    events, _ = pull_until(gw, setup["key"], {wanted})
    assert [e["id"] for e in events].count(wanted) == 1  # the retry was a counted duplicate
    assert wait_until(
        lambda: (
            sum(
                1
                for r in read_audit(setup["bootstrap"])
                if r.kind == "published" and r.delivery_id == f"hc-{uid}"
            )
            == 2
        ),
        30,
    )

    bad = {
        **body,
        "mother_id": body["mother_id"][:-1] + ("0" if body["mother_id"][-1] != "0" else "1"),
    }
    r = httpx.post(url, json=bad, headers={"X-API-Key": health})
    problem(r, 422, "identifier-citizen_id")
    assert bad["mother_id"] not in r.text
    mother = body["mother_id"]
    forms = {**non_canonical_forms(mother), "lower-case-x": X_ID.replace("X", "x")}
    for form, non_canonical in forms.items():
        r = httpx.post(
            url, json={**body, "mother_id": non_canonical}, headers={"X-API-Key": health}
        )
        problem(r, 422, "identifier-citizen_id")
        assert "mother_id" in r.json()["detail"], form
    problem(
        httpx.post(url, json={**body, "weight_g": "heavy"}, headers={"X-API-Key": health}),
        422,
        "field-type",
    )
    tax = keys.issue("tax", ["publisher"])
    problem(httpx.post(url, json=body, headers={"X-API-Key": tax}), 403, "policy-not_owner")
    problem(
        httpx.post(
            f"{gw.url}/v1/publish/gov.health.shoes", json=body, headers={"X-API-Key": health}
        ),
        404,
        "catalogue-unknown_type",
    )
    problem(httpx.post(url, json=body, headers={"X-API-Key": setup["key"]}), 403, "forbidden")


AVRO_TYPES = ["application/avro", "application/vnd.apache.avro+binary", "avro/binary"]


def test_avro_on_request_decodes_with_the_schema_at_the_dataschema_url(
    setup: dict[str, Any],
) -> None:
    import base64  # noqa: PLC0415
    import io  # noqa: PLC0415

    import fastavro  # noqa: PLC0415

    from govbus.schemas.codec import AvroCodec  # noqa: PLC0415

    gw, key, dept = setup["gw"], setup["key"], setup["dept"]
    auth = {"X-API-Key": key}
    wanted = {delivery_id(dept, "health", e) for e in publish(1, setup["uid"] + "avro")}
    events, _ = pull_until(gw, key, wanted)
    event = next(e for e in events if e["id"] in wanted)
    # CloudEvents dataschema: a URL on this gateway that serves the data's Avro schema.
    assert event["dataschema"].startswith(f"{gw.url}/v1/schemas/")
    schema = httpx.get(event["dataschema"], headers=auth).json()
    codec = AvroCodec()
    codec.register(schema)
    # Not acked, so later passes page through the same deliveries. JSON with the Avro bytes:
    r = httpx.get(f"{gw.url}/v1/events", params={"limit": 500, "data": "avro"}, headers=auth)
    binary = next(e for e in r.json()["events"] if e["id"] == event["id"])
    assert binary["datacontenttype"] == "application/avro"
    assert "data" not in binary
    raw = base64.b64decode(binary["data_base64"])
    assert raw[:2] == b"\xc3\x01"
    assert codec.decode(raw)[1] == event["data"]
    # Real Avro: an object container file with one DeliveryPage, in the type asked for.
    for media_type in AVRO_TYPES:
        r = httpx.get(
            f"{gw.url}/v1/events",
            params={"limit": 500},
            headers={**auth, "Accept": f"{media_type}, application/json;q=0.5"},
        )
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == media_type
        [page] = list(fastavro.reader(io.BytesIO(r.content)))
        assert page["cursor"]
        got = next(e for e in page["events"] if e["id"] == event["id"])
        assert got["dataschema"] == event["dataschema"]
        assert got["subscription"] == event["govbussubscription"]
        assert codec.decode(got["data"])[1] == event["data"]
    for unsupported in ("text/html", "application/xml", "application/json;q=0"):
        r = httpx.get(f"{gw.url}/v1/events", headers={**auth, "Accept": unsupported})
        problem(r, 406, "not-acceptable")
        assert "application/avro" in r.json()["detail"]
    problem(
        httpx.get(f"{gw.url}/v1/schemas/{'0' * 16}", headers=auth),
        404,
        "no-such-schema",
    )


def test_bearer_keys_from_a_jwks_url(runtime: ConnectionSettings, uid: str) -> None:
    import http.server  # noqa: PLC0415

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwks = json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}).encode()

    class Jwks(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(jwks)

        def log_message(self, *args: Any) -> None:
            return

    idp = http.server.HTTPServer(("127.0.0.1", 0), Jwks)
    threading.Thread(target=idp.serve_forever, daemon=True).start()
    settings = GatewaySettings(
        jwks_url=f"http://127.0.0.1:{idp.server_port}/jwks.json", jwt_issuer=ISSUER
    )
    try:
        with Gateway(runtime, settings) as gw:
            now = int(time.time())
            claims = {
                "sub": "app",
                "aud": "govbus",
                "iss": ISSUER,
                "exp": now + 300,
                "department": f"jw_{uid}",
                "roles": ["subscriber"],
            }
            good = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})
            r = httpx.get(f"{gw.url}/v1/events", headers={"Authorization": f"Bearer {good}"})
            problem(r, 404, "no-subscription")  # authenticated; it just has no grant yet
            unknown = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k2"})
            problem(
                httpx.get(f"{gw.url}/v1/events", headers={"Authorization": f"Bearer {unknown}"}),
                401,
                "unauthorized",
            )
    finally:
        idp.shutdown()
        idp.server_close()


@pytest.mark.parametrize(
    ("limits", "window_s", "allowed", "code"),
    [
        ({"rate_limit_per_minute": 3}, 60, 3, "rate-limited"),
        ({"rate_limit_per_minute": 1000, "quota_per_day": 2}, 86_400, 2, "quota-exceeded"),
    ],
    ids=["per-minute", "per-day"],
)
def test_limits_answer_429_with_retry_after(
    runtime: ConnectionSettings,
    uid: str,
    limits: dict[str, int],
    window_s: int,
    allowed: int,
    code: str,
) -> None:
    settings = GatewaySettings(**limits)
    keys = KeyStore(runtime.pg, settings.api_key_pepper.get_secret_value().encode())
    keys.init()
    key = keys.issue(f"rl_{uid}", ["subscriber"])
    with Gateway(runtime, settings) as gw:
        inside_one_window(window_s, 20)
        codes = [
            httpx.get(f"{gw.url}/v1/events", headers={"X-API-Key": key}).status_code
            for _ in range(allowed)
        ]
        r = httpx.get(f"{gw.url}/v1/events", headers={"X-API-Key": key})
    assert codes == [404] * allowed  # allowed (no subscription yet)
    problem(r, 429, code)
    assert 1 <= int(r.headers["Retry-After"]) <= window_s

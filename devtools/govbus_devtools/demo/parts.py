"""Pieces of the demo that play the people and services around the bus: a gateway under
uvicorn, a department's reading client, the API keys the departments are given, and the
citizen portal's login service that vouches for the citizen asking for a report, and the
delivery ids the demo's workers give (the demo runs the buses, so it holds their keys)."""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import jwt
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from govbus.config import ConnectionSettings, GatewaySettings, KeySettings, load
from govbus.gateway.app import create_app
from govbus.gateway.keystore import KeyStore
from govbus.pseudonym import Pseudonymizer
from govbus_devtools.devenv.process import free_port


@cache
def _bus_keys() -> Pseudonymizer:
    return Pseudonymizer(load(KeySettings))


def delivery_id(subscriber: str, source: str, event_id: str) -> str:
    """A department's id of an event, as the demo's workers (both provinces run with the
    keys of this environment) make it."""
    return _bus_keys().delivery_id(subscriber, source, event_id)


@contextmanager
def running_gateway(conn: ConnectionSettings, settings: GatewaySettings) -> Iterator[str]:
    """The real gateway app under uvicorn on a free loopback port, for the length of the run."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(conn, settings), host="127.0.0.1", port=port, log_level="error")
    )
    thread = threading.Thread(target=server.run, name="govbus-demo-gateway", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the gateway did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


# A delivery as read: the CloudEvent, the wall-clock time of the read, field -> masking rule.
Seen = tuple[dict[str, Any], float, dict[str, str]]


class DepartmentReader(threading.Thread):
    """One subscribing department's client: long-polls the gateway with its own key from the
    start of the run, and stops once it has read what it expects (or is told to stop)."""

    def __init__(
        self, gateway: str, department: str, key: str, since: dt.datetime, *, ack: bool = True
    ) -> None:
        super().__init__(name=f"demo-reader-{department}", daemon=True)
        self.gateway = gateway
        self.department = department
        self.key = key
        self.since = since
        # A peer bus's reader here only looks: its bridge acks (an ack moves the cursor the
        # bridge resumes from).
        self.ack = ack
        self.received: dict[str, tuple[dict[str, Any], float]] = {}
        self.error: str | None = None
        self._expected: set[str] | None = None
        self._stop_event = threading.Event()

    def expect(self, delivery_ids: set[str]) -> None:
        self._expected = set(delivery_ids)

    def stop(self) -> None:
        self._stop_event.set()

    def run(self) -> None:
        params: dict[str, Any] = {"from_time": self.since.isoformat(), "limit": 500, "wait": 2}
        headers = {"X-API-Key": self.key}
        with httpx.Client(base_url=self.gateway, timeout=30) as http:
            while not self._stop_event.is_set():
                try:
                    page = http.get("/v1/events", params=params, headers=headers)
                    page.raise_for_status()
                except httpx.HTTPError as exc:
                    self.error = str(exc)
                    return
                body = page.json()
                now = time.time()
                for event in body["events"]:
                    self.received.setdefault(event["id"], (event, now))
                params = {"cursor": body["cursor"], "limit": 500, "wait": 2}
                done = self._expected is not None and self._expected <= set(self.received)
                if done and not body["events"]:
                    if not self.ack:
                        return
                    http.post("/v1/events/ack", json={"cursor": body["cursor"]}, headers=headers)
                    return


@dataclass
class Keys:
    store: KeyStore
    issued: dict[str, str] = field(default_factory=dict)  # department -> key

    def for_(self, department: str, role: str) -> str:
        name = f"{department}:{role}"
        if name not in self.issued:
            self.issued[name] = self.store.issue(department, [role])
        return self.issued[name]

    def revoke_all(self) -> None:
        for key in self.issued.values():
            self.store.revoke(key.split("_")[1])


class CitizenLogin:
    """The citizen portal's login service: after a citizen logged in, it signs a short
    single-use assertion naming the identifiers the citizen may ask about (their own ID,
    and e.g. their newborn's birth certificate number). The gateway holds its public key."""

    def __init__(self, directory: Path, audience: str = "govbus-disclosures") -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        self.audience = audience
        self.public_key = directory / "citizen-login.pem"
        self.public_key.write_bytes(
            self._key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )

    def assertion(self, citizen_id: str, also: list[str] | None = None, ttl_s: int = 60) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "sub": citizen_id,
            "aud": self.audience,
            "iat": now,
            "exp": now + ttl_s,
            "jti": uuid.uuid4().hex,
        }
        if also:
            claims["govbus_ids"] = also
        return jwt.encode(claims, self._key, algorithm="ES256")

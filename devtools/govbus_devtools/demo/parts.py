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

import jwt
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from govbus.client import ClientError, Delivery, Handlers, RunStats, Subscriber
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


# A delivery as read: the delivery, the wall-clock time of the read, field -> masking rule.
Seen = tuple[Delivery, float, dict[str, str]]


class DepartmentReader(threading.Thread):
    """One subscribing department's client: reads the gateway with its own key through the
    subscriber SDK from the start of the run, and stops once it has read what it expects and
    the gateway has nothing more (or it is told to stop)."""

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
        self.received: dict[str, tuple[Delivery, float]] = {}
        # Your delivery id of an event amended -> the ids of the corrections and retractions.
        self.amended: dict[str, list[str]] = {}
        self.error: str | None = None
        self.stats = RunStats()  # the SDK's: handled, acked, failures retried
        self._expected: set[str] | None = None
        self._stop_event = threading.Event()

    def expect(self, delivery_ids: set[str]) -> None:
        self._expected = set(delivery_ids)

    def stop(self) -> None:
        self._stop_event.set()

    def run(self) -> None:
        handlers = Handlers(
            on_event=self._read, on_correction=self._amends, on_retraction=self._amends
        )
        with Subscriber(
            self.gateway,
            self.key,
            limit=500,
            wait_s=2,
            from_time=self.since,
            commit=self.ack,
        ) as sub:
            self.stats = sub.stats
            try:
                sub.run(handlers, stop=self._stop_event, until_caught_up=self._has_all)
            except ClientError as exc:  # refused for good; failures in between are retried
                self.error = str(exc)

    def _read(self, delivery: Delivery) -> None:
        self.received.setdefault(delivery.id, (delivery, time.time()))

    def _amends(self, delivery: Delivery) -> None:
        if delivery.id not in self.received and delivery.corrects is not None:
            self.amended.setdefault(delivery.corrects, []).append(delivery.id)
        self._read(delivery)

    def problems(self) -> list[str]:
        """What went wrong for this reader: a refusal, or a correction or retraction of a
        delivery it never received (the bus sends them to the original's recipients only)."""
        found = [f"{self.department}'s reader: {self.error}"] if self.error else []
        found += [
            f"{self.department} received {', '.join(ids)} amending {original}, "
            "which it never received"
            for original, ids in sorted(self.amended.items())
            if original not in self.received
        ]
        return found

    def _has_all(self) -> bool:
        """Asked when a pull came back empty: everything expected was read, and nothing
        else of this run is still coming."""
        return self._expected is not None and self._expected <= self.received.keys()


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

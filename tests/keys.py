"""The bus's keys as the tests' workers run with them (the development defaults of this
environment), for what a test expects to find: a department's delivery id of an event."""

from __future__ import annotations

import uuid

from govbus.config import KeySettings
from govbus.pseudonym import Pseudonymizer

BUS = Pseudonymizer(KeySettings())


def delivery_id(subscriber: str, source: str, event_id: str) -> str:
    return BUS.delivery_id(subscriber, source, event_id)


# How delivery ids were once made: a uuid5 in a namespace public in the source, so anyone
# could compute every department's id of an event from the event id, and join on it.
_PUBLIC_NAMESPACE = uuid.UUID("6f1d7a52-3c4e-4b8e-9a57-2c0f3b1e9d11")


def unkeyed_delivery_id(subscriber: str, source: str, event_id: str) -> str:
    return str(uuid.uuid5(_PUBLIC_NAMESPACE, f"{subscriber}|{source}|{event_id}"))

"""Subscriber SDK: read your department's deliveries from the gateway without writing the
loop yourself. Pull (long-poll) or SSE stream, resume from the last acknowledged cursor,
ack only after your handler succeeded, back off on failures honouring ``Retry-After``,
corrections and retractions as their own typed callbacks, JSON or Avro payloads.

    from govbus.client import Handlers, Subscriber

    with Subscriber("https://gateway.example", api_key) as sub:
        sub.run(Handlers(on_event=store, on_correction=amend, on_retraction=withdraw))
"""

from govbus.client.backoff import Backoff, retry_after_s
from govbus.client.delivery import Amendment, Delivery, Page
from govbus.client.dispatch import Handlers
from govbus.client.errors import ClientError, RefusedError, UnavailableError
from govbus.client.subscriber import RunStats, Subscriber

__all__ = [
    "Amendment",
    "Backoff",
    "ClientError",
    "Delivery",
    "Handlers",
    "Page",
    "RefusedError",
    "RunStats",
    "Subscriber",
    "UnavailableError",
    "retry_after_s",
]

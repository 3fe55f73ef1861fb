"""Read your department's deliveries with the subscriber SDK (govbus.client).

    GOVBUS_GATEWAY_URL=https://gateway.example GOVBUS_API_KEY=gbk_... \
        python examples/subscriber_sdk.py

Each delivery goes to the callback for its kind; the SDK acks only after the callback
returned, resumes after the last ack when restarted, and backs off (honouring
Retry-After) when the gateway is busy or away. A delivery may come twice after a crash:
keep what you have by ``delivery.id``.
"""

from __future__ import annotations

import os
import signal
import threading

from govbus.client import Delivery, Handlers, Subscriber

stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())


def on_event(delivery: Delivery) -> None:
    print(f"{delivery.type} {delivery.id}: {dict(delivery.data)}")


def on_correction(delivery: Delivery) -> None:
    print(f"{delivery.id} replaces {delivery.corrects}: {dict(delivery.data)}")


def on_retraction(delivery: Delivery) -> None:
    print(f"{delivery.id} withdraws {delivery.corrects}")


if __name__ == "__main__":
    with Subscriber(os.environ["GOVBUS_GATEWAY_URL"], os.environ["GOVBUS_API_KEY"]) as sub:
        sub.run(
            Handlers(on_event, on_correction=on_correction, on_retraction=on_retraction),
            mode="stream",  # or "pull" (long-poll)
            stop=stop,
        )

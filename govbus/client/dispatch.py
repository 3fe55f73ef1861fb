"""Which of your callbacks a delivery goes to (pure)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from govbus.client.delivery import Delivery

Handler = Callable[[Delivery], None]


@dataclass(frozen=True)
class Handlers:
    """``on_event`` gets new facts; ``on_correction`` an event that replaces the one named by
    ``delivery.corrects`` (your id of it); ``on_retraction`` one that withdraws it. Without
    ``on_correction`` or ``on_retraction`` such a delivery goes to ``on_event`` (check
    ``delivery.amendment`` there). A callback that raises is retried: nothing after it is
    acknowledged until it succeeds."""

    on_event: Handler
    on_correction: Handler | None = None
    on_retraction: Handler | None = None

    def handler_for(self, delivery: Delivery) -> Handler:
        if delivery.amendment == "correction" and self.on_correction is not None:
            return self.on_correction
        if delivery.amendment == "retraction" and self.on_retraction is not None:
            return self.on_retraction
        return self.on_event

    def __call__(self, delivery: Delivery) -> None:
        self.handler_for(delivery)(delivery)

"""The approval deadlines as a metric (``govbus.approvals.awaiting``): when metrics are
collected, the policy is read and every unanswered part of a conditional request counted by
provider and state (overdue, due_soon, waiting). A gateway process observes through one
:class:`ApprovalDeadlines` (OpenTelemetry keeps the first callback registered under a name),
which its lifespan points at its policy topic and detaches on the way out."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from govbus import policy_store, telemetry
from govbus.config import GatewaySettings
from govbus.gateway import approvals
from govbus.policy import Subscription
from govbus.schemas.catalogue import default_catalogue

log = logging.getLogger(__name__)
# Parts due within this long count as due_soon (a working day's notice, about).
DUE_SOON = dt.timedelta(days=1)
Reader = Callable[[], Iterable[Subscription]]


class ApprovalDeadlines:
    def __init__(self, clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._watched: tuple[Reader, GatewaySettings] | None = None

    def watch(self, read: Reader | None, settings: GatewaySettings | None = None) -> None:
        """Count the subscriptions ``read`` returns, under ``settings``' deadline rules
        (None: stop; nothing is observed)."""
        with self._lock:
            self._watched = (read, settings or GatewaySettings()) if read is not None else None

    def observe(self) -> list[tuple[int, dict[str, str]]]:
        with self._lock:
            watched = self._watched
        if watched is None:
            return []
        read, settings = watched
        now = self.clock()
        try:
            subs = list(read())
        except Exception:
            log.warning("approval deadlines: the policy could not be read", exc_info=True)
            return []
        waiting = approvals.awaiting(
            subs,
            default_catalogue(),
            now,
            working_days=settings.approval_working_days,
            holidays=settings.holidays,
            tz=settings.working_day_timezone,
        )
        counts = approvals.by_state(waiting, now, DUE_SOON)
        return [(n, {"provider": p, "state": s}) for (p, s), n in sorted(counts.items())]


def policy_reader(bootstrap: str, policy_topic: str) -> Reader:
    return lambda: policy_store.read(bootstrap, policy_topic).subscriptions


@contextmanager
def watching(bootstrap: str, policy_topic: str, settings: GatewaySettings) -> Iterator[None]:
    """The process's deadlines observed from ``policy_topic`` while inside."""
    watched = deadlines()
    watched.watch(policy_reader(bootstrap, policy_topic), settings)
    try:
        yield
    finally:
        watched.watch(None)


_process: ApprovalDeadlines | None = None
_process_lock = threading.Lock()


def deadlines() -> ApprovalDeadlines:
    """The process's one :class:`ApprovalDeadlines`, registered with the meter on first use."""
    global _process  # noqa: PLW0603 - one observable gauge per process, by OTel's design
    with _process_lock:
        if _process is None:
            _process = ApprovalDeadlines()
            telemetry.ApprovalMetrics(_process.observe)
        return _process

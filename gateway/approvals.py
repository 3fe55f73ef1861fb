"""Conditional subscriptions, answered part by part: each provider approves or rejects the
part of a request that covers the event types it owns, within a deadline of working days
counted from the request. Pure functions over the policy model; the routes do the IO.

A subscription is ``pending`` until some provider approved its part, then ``active`` (the
worker delivers a conditional type only once *its* provider approved: policy.is_live), and
``rejected`` once every provider refused. A part nobody answered stays in the provider's
inbox, overdue after the deadline.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from govbus.policy import Approval, Rejection, Status, Subscription
from govbus.schemas.catalogue import Catalogue


def owners(sub: Subscription, catalogue: Catalogue, *, conditional: bool = False) -> set[str]:
    """The departments providing the types ``sub`` covers (only conditional ones: the
    providers whose approval it needs)."""
    found = set()
    for type_name in sub.event_types:
        event = catalogue.latest(type_name)
        if event is not None and (not conditional or event.sharing == "conditional"):
            found.add(event.owner)
    return found


def undecided(sub: Subscription, catalogue: Catalogue) -> set[str]:
    """Providers whose part of ``sub`` awaits their answer."""
    rejected = {r.provider for r in sub.rejections}
    return {
        p
        for p in owners(sub, catalogue, conditional=True)
        if not sub.approved_by(p) and p not in rejected
    }


def status_of(sub: Subscription, catalogue: Catalogue) -> Status:
    providers = owners(sub, catalogue, conditional=True)
    if not providers or any(sub.approved_by(p) for p in providers):
        return "active"
    if providers <= {r.provider for r in sub.rejections}:
        return "rejected"
    return "pending"


class NotAwaitingError(ValueError):
    """The provider's part is not waiting for an answer (answered, or the request ended)."""


def _check_open(sub: Subscription, provider: str, catalogue: Catalogue) -> None:
    if sub.status not in ("pending", "active"):
        raise NotAwaitingError(f"{sub.id} is {sub.status}")
    if provider not in undecided(sub, catalogue):
        raise NotAwaitingError(f"{provider} has answered its part of {sub.id}")


def approve(
    sub: Subscription,
    provider: str,
    *,
    approver: str,
    reference: str,
    now: dt.datetime,
    catalogue: Catalogue,
) -> Subscription:
    _check_open(sub, provider, catalogue)
    approval = Approval(approver=approver, approved_at=now, reference=reference, provider=provider)
    changed = sub.model_copy(update={"approvals": [*sub.approvals, approval]})
    return changed.model_copy(update={"status": status_of(changed, catalogue)})


def reject(
    sub: Subscription,
    provider: str,
    *,
    rejecter: str,
    reason: str,
    now: dt.datetime,
    catalogue: Catalogue,
) -> Subscription:
    _check_open(sub, provider, catalogue)
    rejection = Rejection(provider=provider, rejecter=rejecter, rejected_at=now, reason=reason)
    changed = sub.model_copy(update={"rejections": [*sub.rejections, rejection]})
    status = status_of(changed, catalogue)
    update: dict[str, object] = {"status": status}
    if status == "rejected":
        reasons = (f"{r.provider}: {r.reason}" for r in changed.rejections)
        update["rejection_reason"] = "; ".join(reasons)
    return changed.model_copy(update=update)


# ----------------------------------------------------------------- the answer deadline


def due(
    requested_at: dt.datetime,
    working_days: int,
    holidays: Iterable[dt.date] = (),
    tz: str = "Asia/Shanghai",
) -> dt.datetime:
    """The end of the ``working_days``-th working day after the day of the request, in the
    providers' time zone. Weekends and the listed holidays are not working days."""
    zone = ZoneInfo(tz)
    off = set(holidays)
    day = requested_at.astimezone(zone).date()
    left = working_days
    while left > 0:
        day += dt.timedelta(days=1)
        if day.weekday() < 5 and day not in off:
            left -= 1
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), zone)


@dataclass(frozen=True)
class Awaiting:
    """One provider's unanswered part of a request."""

    subscription: Subscription
    provider: str
    due: dt.datetime
    overdue: bool

    def to_json(self) -> dict[str, object]:
        sub = self.subscription
        return {
            "subscription": sub.id,
            "subscriber": sub.subscriber,
            "provider": self.provider,
            "event_types": sub.event_types,
            "fields": dict(sub.fields),
            "legal_basis": sub.legal_basis,
            "purpose": sub.purpose,
            "requested_at": sub.requested_at.isoformat() if sub.requested_at else None,
            "due": self.due.isoformat(),
            "overdue": self.overdue,
        }


def awaiting(
    subs: Iterable[Subscription],
    catalogue: Catalogue,
    now: dt.datetime,
    *,
    working_days: int,
    holidays: Iterable[dt.date] = (),
    tz: str = "Asia/Shanghai",
) -> list[Awaiting]:
    """Every unanswered part, oldest deadline first. A request without ``requested_at``
    (written by hand into a policy file) is due at once."""
    days = list(holidays)
    out = []
    for sub in subs:
        if sub.status not in ("pending", "active"):
            continue
        for provider in sorted(undecided(sub, catalogue)):
            deadline = (
                due(sub.requested_at, working_days, days, tz)
                if sub.requested_at is not None
                else now
            )
            out.append(Awaiting(sub, provider, deadline, now >= deadline))
    return sorted(out, key=lambda a: (a.due, a.subscription.id, a.provider))


def by_state(
    waiting: Iterable[Awaiting], now: dt.datetime, soon: dt.timedelta
) -> dict[tuple[str, str], int]:
    """How many unanswered parts each provider has per state: ``overdue`` (past the
    deadline), ``due_soon`` (due within ``soon``), else ``waiting``; for the metrics."""
    counts: dict[tuple[str, str], int] = {}
    for a in waiting:
        state = "overdue" if a.overdue else "due_soon" if a.due - now <= soon else "waiting"
        counts[a.provider, state] = counts.get((a.provider, state), 0) + 1
    return counts

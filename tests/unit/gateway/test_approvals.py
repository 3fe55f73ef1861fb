"""Conditional requests answered part by part, the working-day deadline, and the gateway's
cheap refusals: the client bucket, the access-log redaction, shared stream re-checks."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import Any

import pytest

from govbus.gateway import approvals
from govbus.gateway.access_log import redact
from govbus.gateway.authority import Principal
from govbus.gateway.clientlimit import ClientLimiter
from govbus.gateway.problems import Problem
from govbus.gateway.recheck import Rechecks
from govbus.policy import Subscription
from govbus.schemas.catalogue import default_catalogue

CATALOGUE = default_catalogue()
NOW = dt.datetime(2026, 10, 9, 3, 0, tzinfo=dt.UTC)  # a Friday, 11:00 in Beijing


def request(**over: Any) -> Subscription:
    return Subscription.model_validate(
        {
            "id": "hr-1",
            "subscriber": "hrss",
            "event_types": [
                "gov.public_security.household_cancelled",
                "gov.health.death_registered",
            ],
            "fields": {"citizen_id": "clear"},
            "legal_basis": "law",
            "purpose": "stop the pension",
            "status": "pending",
            "requested_at": NOW,
            **over,
        }
    )


def answer(sub: Subscription, provider: str, *, yes: bool) -> Subscription:
    if yes:
        return approvals.approve(
            sub, provider, approver=f"{provider}:key:1", reference="R", now=NOW, catalogue=CATALOGUE
        )
    return approvals.reject(
        sub, provider, rejecter=f"{provider}:key:1", reason="no", now=NOW, catalogue=CATALOGUE
    )


def test_each_provider_answers_its_own_part() -> None:
    sub = request()
    assert approvals.undecided(sub, CATALOGUE) == {"public_security", "health"}
    half = answer(sub, "public_security", yes=True)
    assert half.status == "active"
    assert approvals.undecided(half, CATALOGUE) == {"health"}
    with pytest.raises(approvals.NotAwaitingError):
        answer(half, "public_security", yes=False)  # answered already
    with pytest.raises(approvals.NotAwaitingError):
        answer(half, "tax", yes=True)  # not a provider of this request
    full = answer(half, "health", yes=False)
    assert full.status == "active"  # public security's part stays live
    assert approvals.undecided(full, CATALOGUE) == set()
    assert [r.provider for r in full.rejections] == ["health"]


def test_rejected_once_every_provider_refused() -> None:
    sub = answer(answer(request(), "health", yes=False), "public_security", yes=False)
    assert sub.status == "rejected"
    assert sub.rejection_reason == "health: no; public_security: no"
    with pytest.raises(approvals.NotAwaitingError):
        answer(sub, "health", yes=True)


def test_unconditional_requests_are_active_at_once() -> None:
    sub = request(event_types=["gov.tax.tax_registered"], fields={"credit_code": "clear"})
    assert approvals.status_of(sub, CATALOGUE) == "active"
    assert approvals.owners(sub, CATALOGUE) == {"tax"}
    assert approvals.owners(sub, CATALOGUE, conditional=True) == set()


@pytest.mark.parametrize(
    ("requested", "days", "holidays", "due"),
    [
        # Friday -> Monday..Friday, Monday..Friday: due at the end of the second Friday.
        (NOW, 10, [], dt.datetime(2026, 10, 24, tzinfo=dt.timezone(dt.timedelta(hours=8)))),
        # National Day week off: three more days.
        (
            NOW,
            10,
            [dt.date(2026, 10, 12), dt.date(2026, 10, 13), dt.date(2026, 10, 14)],
            dt.datetime(2026, 10, 29, tzinfo=dt.timezone(dt.timedelta(hours=8))),
        ),
        # 23:30 UTC on a Friday is Saturday in Beijing: Monday is the first working day.
        (
            dt.datetime(2026, 10, 9, 23, 30, tzinfo=dt.UTC),
            1,
            [],
            dt.datetime(2026, 10, 13, tzinfo=dt.timezone(dt.timedelta(hours=8))),
        ),
    ],
)
def test_the_deadline_counts_working_days_in_beijing(
    requested: dt.datetime, days: int, holidays: list[dt.date], due: dt.datetime
) -> None:
    assert approvals.due(requested, days, holidays) == due


def test_the_inbox_lists_unanswered_parts_and_what_is_overdue() -> None:
    old = request(id="old-1", requested_at=NOW - dt.timedelta(days=30))
    new = answer(request(id="new-1"), "health", yes=True)
    done = request(id="done-1", status="revoked")
    items = approvals.awaiting(
        [new, old, done], CATALOGUE, NOW + dt.timedelta(days=1), working_days=10
    )
    assert [(a.subscription.id, a.provider, a.overdue) for a in items] == [
        ("old-1", "health", True),
        ("old-1", "public_security", True),
        ("new-1", "public_security", False),
    ]
    assert items[0].to_json()["due"] < items[2].to_json()["due"]


def test_the_metric_counts_parts_per_provider_overdue_due_soon_or_waiting() -> None:
    old = request(id="old-1", requested_at=NOW - dt.timedelta(days=30))
    new = answer(request(id="new-1"), "health", yes=True)
    now = NOW + dt.timedelta(days=1)
    items = approvals.awaiting([new, old], CATALOGUE, now, working_days=10)
    assert approvals.by_state(items, now, dt.timedelta(days=1)) == {
        ("health", "overdue"): 1,
        ("public_security", "overdue"): 1,
        ("public_security", "waiting"): 1,
    }
    # Within the notice the same part is due soon; past its deadline, overdue.
    (fresh,) = [a for a in items if not a.overdue]
    soon = fresh.due - dt.timedelta(hours=2)
    assert approvals.by_state([fresh], soon, dt.timedelta(days=1)) == {
        ("public_security", "due_soon"): 1
    }
    assert approvals.by_state([fresh], soon, dt.timedelta(hours=1)) == {
        ("public_security", "waiting"): 1
    }


def test_the_client_bucket_refuses_a_flood_and_refills() -> None:
    limiter = ClientLimiter(rate_per_s=10, burst=5, max_clients=2)
    assert [limiter.retry_after("a", now=0.0) for _ in range(6)][-1] == pytest.approx(0.1)
    assert limiter.retry_after("a", now=0.1) == 0  # one token back after 1/rate seconds
    assert limiter.retry_after("b", now=0.1) == 0  # other clients have their own bucket
    limiter.retry_after("c", now=0.1)
    assert len(limiter._buckets) == 2  # bounded: the least recently seen is forgotten


@pytest.mark.parametrize(
    ("target", "logged"),
    [
        ("/v1/subjects/110102193805201633/disclosures", "/v1/subjects/<redacted>/disclosures"),
        ("/v1/events?cursor=abc&limit=5", "/v1/events?<redacted>"),
        ("/v1/publish/gov.health.birth_registered", "/v1/publish/gov.health.birth_registered"),
        ("/v1/admin/subscriptions/ps-household-from-birth/approve", None),
    ],
)
def test_the_access_log_keeps_no_identifier(target: str, logged: str | None) -> None:
    assert redact(target) == (logged or target)


class CountingAuth:
    """Stands in for the Authenticator's database check (Rechecks only calls still_valid)."""

    def __init__(self) -> None:
        self.calls = 0
        self.revoked = False

    def still_valid(self, who: Principal) -> Problem | None:
        self.calls += 1
        time.sleep(0.05)  # a database round trip
        return Problem(401, "credential-revoked", "revoked") if self.revoked else None


def test_streams_of_one_key_share_each_recheck_and_never_skip_one() -> None:
    auth = CountingAuth()
    checks = Rechecks(auth)  # type: ignore[arg-type]  # only still_valid is used
    who = Principal("ps", frozenset({"subscriber"}), "key:k", key_id="k")

    async def scenario() -> None:
        read_at = time.monotonic()
        answers = await asyncio.gather(*(checks.ended(who, read_at) for _ in range(50)))
        assert answers == [None] * 50
        assert auth.calls == 1  # one query served the fifty streams
        auth.revoked = True
        # A page read after that check needs a check of its own: it sees the revocation.
        ended = await checks.ended(who, time.monotonic())
        assert ended is not None
        assert ended.code == "credential-revoked"
        assert auth.calls == 2

    asyncio.run(scenario())

"""`govbus demo --json` run as a user runs it, on the real runtime, and every outcome checked
against the demo policy: who received each event, which fields, masked how, under which legal
basis and purpose; the correction, the duplicate, the dead letter and the refusals."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from govbus.config import ConnectionSettings, GatewaySettings
from govbus.gateway.keystore import KeyStore
from govbus.policy import Condition, PolicyDocument, Subscription, load_policy_file
from govbus.schemas.catalogue import default_catalogue
from govbus_devtools.cli.demo import CONSOLE_ROLES
from govbus_devtools.demo.run import demo_policy_path
from tests.keys import delivery_id


@pytest.fixture(scope="module")
def demo_run(
    runtime: ConnectionSettings, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("demo")
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "govbus"),
            "demo",
            "--json",
            str(out / "demo.json"),
            "--html",
            str(out / "demo.html"),
        ],
        capture_output=True,
        text=True,
        timeout=280,
        env={**os.environ, "COLUMNS": "160"},
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads((out / "demo.json").read_text())
    return {"report": report, "html": (out / "demo.html").read_text(), "stdout": done.stdout}


@pytest.fixture(scope="module")
def policy() -> PolicyDocument:
    doc = load_policy_file(demo_policy_path(), default_catalogue())
    catalogue = default_catalogue()
    # The expectations below assume what the demo policy is: all active, conditional types
    # approved, no expiry, filters of the simple kind `eligible` evaluates. Fail loudly if
    # someone changes that.
    for sub in doc.subscriptions:
        assert sub.status == "active"
        assert sub.expires is None
        assert sub.filter is None or isinstance(sub.filter, Condition)
        for type_name in sub.event_types:
            event = catalogue.latest(type_name)
            assert event is not None
            assert event.sharing == "unconditional" or sub.approved_by(event.owner)
    return doc


def eligible(sub: Subscription, published: dict[str, Any]) -> bool:
    """The demo's filters, evaluated here independently of the bus's own evaluator."""
    cond = sub.filter
    if cond is None:
        return True
    assert isinstance(cond, Condition)
    value = str(published.get(cond.field))
    if cond.prefix is not None:
        return value.startswith(cond.prefix)
    assert cond.eq is not None, "extend eligible() for this operator"
    return value == str(cond.eq)


def entitled(
    policy: PolicyDocument, event_type: str, published: dict[str, Any]
) -> dict[str, Subscription]:
    return {
        s.subscriber: s
        for s in policy.subscriptions
        if event_type in s.event_types and eligible(s, published)
    }


def check_value(rule: str, published: Any, received: Any) -> None:
    if rule == "clear":
        assert received == published
    elif rule == "generalize.year_month":
        assert received == str(published)[:7]
    elif rule == "generalize.district" and str(published).isdigit():
        assert received == str(published)[:4] + "00"  # region code: county -> prefecture
    elif rule == "generalize.district":  # address: kept to the district
        assert received != published
        assert str(published).startswith(str(received).split("*")[0])
    else:  # mask, pseudonym, redact: never the clear value
        assert received != published
        assert str(published) not in str(received)


def test_every_event_reaches_exactly_its_entitled_departments_as_the_policy_says(
    demo_run: dict[str, Any], policy: PolicyDocument
) -> None:
    report = demo_run["report"]
    events = {e["step"]: e for e in report["events"]}
    assert set(events) >= {
        "newborn.birth",
        "newborn.household",
        "death.certified",
        "death.household",
        "death.cremation",
        "death.correction",
        "death.bad_id",
        "business.registered",
        "licence.issued",
        "licence.revoked",
    }
    channels = {e["channel"] for e in report["events"]}
    assert channels == {"outbox", "sdk", "http", "legacy"}
    for event in report["events"]:
        if event["expected"] == "dead_letter":
            continue
        assert event["outcome"] == "delivered", event["step"]
        subs = entitled(policy, event["type"], event["published"])
        if event["corrects"]:
            original = next(e for e in report["events"] if e["event_id"] == event["corrects"])
            subs = {d["subscriber"]: subs[d["subscriber"]] for d in original["deliveries"]}
        got = [d["subscriber"] for d in event["deliveries"]]
        assert sorted(got) == sorted(subs), event["step"]  # each exactly once, nobody else
        for delivery in event["deliveries"]:
            sub = subs[delivery["subscriber"]]
            assert delivery["subscription"] == sub.id
            assert delivery["legal_basis"] == sub.legal_basis
            assert delivery["purpose"] == sub.purpose
            assert {k: f["rule"] for k, f in delivery["fields"].items()} == dict(sub.fields)
            for name, seen in delivery["fields"].items():
                check_value(seen["rule"], event["published"][name], seen["value"])
            assert delivery["delivery_id"] == delivery_id(
                delivery["subscriber"], event["source"], event["event_id"]
            )
            assert 0 <= delivery["delivered_ms"] <= delivery["read_ms"]
        # Each recipient's copy has a trace of its own (linked to the event's processing,
        # docs/tracing.md): departments cannot join their copies on a shared trace id.
        traces = [d["trace_id"] for d in event["deliveries"]]
        assert all(traces), event["step"]
        assert len(set(traces)) == len(traces), event["step"]
        assert event["trace_id"] not in traces, event["step"]


def test_the_correction_names_each_recipients_own_copy_of_the_original(
    demo_run: dict[str, Any],
) -> None:
    events = {e["step"]: e for e in demo_run["report"]["events"]}
    original, correction = events["death.certified"], events["death.correction"]
    assert correction["corrects"] == original["event_id"]
    assert correction["published"]["date_of_death"] < original["published"]["date_of_death"]
    assert {d["subscriber"] for d in correction["deliveries"]} == {
        d["subscriber"] for d in original["deliveries"]
    }
    for delivery in correction["deliveries"]:
        assert delivery["corrects"] == delivery_id(
            delivery["subscriber"], "health", original["event_id"]
        )
    # Cause of death is health data: only disease control has it, in the original and the fix.
    for event in (original, correction):
        for delivery in event["deliveries"]:
            has_cause = "cause_icd10" in delivery["fields"]
            assert has_cause == (delivery["subscriber"] == "disease_control")


def test_retry_is_a_counted_duplicate_and_the_bad_check_digit_a_dead_letter(
    demo_run: dict[str, Any],
) -> None:
    report = demo_run["report"]
    events = {e["step"]: e for e in report["events"]}
    assert events["business.registered"]["duplicates"] == 1
    bad = events["death.bad_id"]
    assert bad["outcome"] == "dead_letter"
    assert bad["reason"] == "identifier.citizen_id"
    assert bad["deliveries"] == []
    totals = report["totals"]
    assert totals["dead_letter"] == 1
    assert totals["duplicate"] == 1
    assert totals["missing"] == 0
    assert totals["delivered"] == sum(len(e["deliveries"]) for e in report["events"])


def test_reads_and_publishes_without_a_grant_are_refused_and_the_control_is_allowed(
    demo_run: dict[str, Any],
) -> None:
    checks = demo_run["report"]["access"]
    assert all(c["ok"] for c in checks), checks
    answers = {c["attempt"]: c for c in checks}
    kafka = answers["read govbus.deliver.public_security with its own Kafka credentials"]
    assert kafka["outcome"] == "refused"
    assert kafka["answer"] == "Kafka TOPIC_AUTHORIZATION_FAILED"
    assert answers["read govbus.deliver.tax with its own Kafka credentials"]["outcome"] == "allowed"
    http = [c["answer"] for c in checks if c["answer"].startswith("HTTP")]
    assert sorted(a.split()[1] for a in http) == ["401", "403", "403", "422"]
    # A department's admin cannot act for another department (authority model).
    cross = answers["its admin issues an API key for health"]
    assert cross["who"] == "public_security"
    assert cross["answer"].endswith("/other-department")


def test_the_reports_for_people_show_the_same_run(demo_run: dict[str, Any]) -> None:
    report, page, text = demo_run["report"], demo_run["html"], demo_run["stdout"]
    assert "<svg" in page
    embedded = page.split('<script type="application/json" id="report">')[1].split("</script>")[0]
    assert json.loads(embedded.replace("<\\/", "</"))["events"] == report["events"]
    for event in report["events"]:
        assert event["event_id"] in text
        assert event["title"] in page
    assert "access checks as expected" in text
    assert Path(report["policy"]).name == "policy-demo.yaml"


def deliveries_of(report: dict[str, Any], steps: set[str]) -> Counter[tuple[str, str, str]]:
    """(recipient, event type, amendment) of each delivery made in these steps."""
    return Counter(
        (d["subscriber"], e["type"], "correction" if e["corrects"] else "")
        for e in report["events"]
        if e["step"] in steps
        for d in e["deliveries"]
    )


def test_the_disclosure_reports_list_exactly_the_deliveries_made(demo_run: dict[str, Any]) -> None:
    report = demo_run["report"]
    reports = report["trust"]["disclosures"]

    def listed(rows: list[dict[str, Any]]) -> Counter[tuple[str, str, str]]:
        return Counter((r["recipient"], r["event_type"], r["amendment"] or "") for r in rows)

    assert listed(reports["deceased"]) == deliveries_of(
        report, {"death.certified", "death.household", "death.cremation", "death.correction"}
    )
    assert listed(reports["newborn"]) == deliveries_of(
        report, {"newborn.birth", "newborn.household"}
    )
    by_recipient = {
        (d["subscriber"], e["type"]): d for e in report["events"] for d in e["deliveries"]
    }
    for row in reports["deceased"] + reports["newborn"]:
        # Nothing in a citizen's report locates a department's copy.
        assert not {"delivery_id", "event_id", "trace_id", "amends"} & set(row)
        delivered = by_recipient[(row["recipient"], row["event_type"])]
        assert row["fields"] == {k: f["rule"] for k, f in delivered["fields"].items()}
        assert row["legal_basis"] == delivered["legal_basis"]
        assert row["purpose"] == delivered["purpose"]
    corrections = [r for r in reports["deceased"] if r["amendment"] == "correction"]
    assert len(corrections) == 3
    # Every delivery above was read through the gateway by its department during the demo.
    assert sum(1 for r in reports["deceased"] if r["read"]) >= len(reports["deceased"]) - 3


def test_licence_checks_follow_issue_and_revocation(demo_run: dict[str, Any]) -> None:
    checks = {c["licence"]: c for c in demo_run["report"]["trust"]["licence_checks"]}
    events = {e["step"]: e for e in demo_run["report"]["events"]}
    assert (
        checks["licence.issued"]["licence_id"]
        == events["licence.issued"]["published"]["licence_id"]
    )
    assert checks["licence.issued"]["status"] == "revoked"
    assert checks["licence.food"]["status"] == "valid"
    assert checks["never issued"]["status"] == "unknown"
    assert set(checks["licence.food"]) == {
        "licence",
        "licence_id",
        "status",
        "as_of",
    }  # nothing else


def test_a_correction_stays_pending_until_each_recipient_acknowledges(
    demo_run: dict[str, Any],
) -> None:
    follow = demo_run["report"]["trust"]["corrections"]
    events = {e["step"]: e for e in demo_run["report"]["events"]}
    recipients = sorted(d["subscriber"] for d in events["death.correction"]["deliveries"])
    assert follow["pending_before"] == recipients
    assert follow["pending_after"] == [r for r in recipients if r != follow["acknowledged_by"]]


def test_the_proactive_subscription_gets_exactly_the_eligible_births(
    demo_run: dict[str, Any],
) -> None:
    events = {e["step"]: e for e in demo_run["report"]["events"]}
    to_office = {
        step
        for step, e in events.items()
        if any(d["subscriber"] == "childcare_subsidy" for d in e["deliveries"])
    }
    # Beijing births in (whatever the parents' province), the Shanghai birth out.
    assert to_office == {"newborn.birth", "newborn.cross_province"}
    assert events["newborn.elsewhere"]["outcome"] == "delivered"  # others still got it


def test_the_cross_province_birth_reaches_province_bs_departments_under_both_policies(
    demo_run: dict[str, Any], policy: PolicyDocument
) -> None:
    report = demo_run["report"]
    events = {e["step"]: e for e in report["events"]}
    # On A's bus only the birth to Jiangsu parents goes to province_b (its agreement's filter).
    to_b = {
        step
        for step, e in events.items()
        if any(d["subscriber"] == "province_b" for d in e["deliveries"])
    }
    assert to_b == {"newborn.cross_province"}
    federation = report["federation"]
    (crossed,) = federation["events"]
    assert crossed["step"] == "newborn.cross_province"
    assert crossed["outcome_in_b"] == "delivered"
    a_event = events["newborn.cross_province"]
    assert crossed["event_id_in_b"] == delivery_id("province_b", "health", a_event["event_id"])
    assert crossed["source_in_b"] == "province_a/health"
    # The delivery to province B is one trace on both buses: A's send, the bridge, B's intake.
    (to_b_delivery,) = [d for d in a_event["deliveries"] if d["subscriber"] == "province_b"]
    assert crossed["trace_id_in_b"] == to_b_delivery["trace_id"] != ""
    b_traces = [d["trace_id"] for d in crossed["deliveries"]]
    assert len(set(b_traces)) == len(b_traces)
    assert crossed["trace_id_in_b"] not in b_traces
    # B's policy, applied to what A granted: each B department gets its fields, no more
    # than A sent, and never less masked than A sent them.
    own = load_policy_file(Path(federation["policy_b"]), default_catalogue()).subscriptions
    agreement = next(s for s in policy.subscriptions if s.subscriber == "province_b")
    published = a_event["published"]
    got = {d["subscriber"]: d for d in crossed["deliveries"]}
    assert set(got) == {s.subscriber for s in own}
    for sub in own:
        delivery = got[sub.subscriber]
        assert set(delivery["fields"]) == set(sub.fields) & set(agreement.fields)
        for name, seen in delivery["fields"].items():
            sent_as = agreement.fields[name]
            if sent_as == "clear":
                assert seen["rule"] == sub.fields[name]
                check_value(seen["rule"], published[name], seen["value"])
            else:  # A masked it: B shows A's mask (or redacts or pseudonymises further)
                assert seen["rule"] != "clear"
                assert str(published[name]) not in str(seen["value"])


def test_the_demo_ends_with_the_consoles_address_and_a_working_key_per_role(
    demo_run: dict[str, Any], runtime: ConnectionSettings
) -> None:
    text = demo_run["stdout"]
    assert "/console/" in text
    store = KeyStore(runtime.pg, GatewaySettings().api_key_pepper.get_secret_value().encode())
    for department, role, _ in CONSOLE_ROLES:
        (line,) = [ln for ln in text.splitlines() if f" {department} {role}:" in ln]
        record = store.verify(line.split()[0])
        assert record is not None
        assert (record.department, tuple(record.roles)) == (department, (role,))

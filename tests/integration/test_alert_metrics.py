"""The metrics behind the approval-deadline and audit-chain alerts, against the real runtime:
a request nobody answered within its working days makes ``govbus.approvals.awaiting``
report it overdue for its provider (read from the policy topic when metrics are collected);
an audit record altered in the audit topic makes the indexer's chain check count a break in
``govbus.audit.chain_breaks``, while an intact chain counts none."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import replace
from typing import Any

import pytest
from confluent_kafka import Producer
from opentelemetry.metrics import Meter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from govbus import policy_store, telemetry
from govbus.audit_watch import ChainMonitor
from govbus.config import ConnectionSettings, GatewaySettings
from govbus.gateway import approval_metrics
from govbus.gateway.approval_metrics import ApprovalDeadlines, policy_reader
from govbus.kafka_config import client_config
from govbus.policy import Subscription
from govbus.schemas.audit import AuditRecord, ChainState, append
from govbus.schemas.topics import AUDIT
from govbus.trace_index import TraceIndexer, TraceIndexStore
from tests.integration.helpers import wait_until
from tests.integration.test_gateway import Gateway


def meter(reader: InMemoryMetricReader) -> Meter:
    return MeterProvider(metric_readers=[reader]).get_meter("test")


def points(reader: InMemoryMetricReader, name: str) -> list[tuple[dict[str, Any], float]]:
    data = reader.get_metrics_data()
    return [
        (dict(point.attributes or {}), point.value)
        for resource in (data.resource_metrics if data else [])
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == name
        for point in metric.data.data_points
    ]


def pending(sub_id: str, subscriber: str, requested_at: dt.datetime) -> Subscription:
    return Subscription.model_validate(
        {
            "id": sub_id,
            "subscriber": subscriber,
            "event_types": ["gov.health.death_registered"],  # conditional: health answers
            "fields": {"citizen_id": "clear"},
            "legal_basis": "law",
            "purpose": "stop the pension",
            "status": "pending",
            "requested_at": requested_at,
        }
    )


def test_an_unanswered_request_past_its_deadline_shows_as_overdue(
    runtime: ConnectionSettings, bootstrap: str, uid: str
) -> None:
    topic = f"govbus.policy.alerts-{uid}"
    now = dt.datetime.now(dt.UTC)
    policy_store.write(
        bootstrap,
        topic,
        [
            pending(f"late-{uid}", f"hrss_{uid}", now - dt.timedelta(days=40)),
            pending(f"new-{uid}", f"civil_{uid}", now),
        ],
    )
    reader = InMemoryMetricReader()
    deadlines = ApprovalDeadlines()
    telemetry.ApprovalMetrics(deadlines.observe, meter(reader))
    assert points(reader, "govbus.approvals.awaiting") == []  # nothing watched yet

    deadlines.watch(policy_reader(bootstrap, topic), GatewaySettings(approval_working_days=10))
    assert sorted(points(reader, "govbus.approvals.awaiting"), key=str) == [
        ({"provider": "health", "state": "overdue"}, 1),
        ({"provider": "health", "state": "waiting"}, 1),
    ]
    deadlines.watch(None)
    assert points(reader, "govbus.approvals.awaiting") == []

    # A gateway watches its own policy topic while it runs (the process's one gauge).
    conn = runtime.model_copy(update={"policy_topic": topic})
    with Gateway(conn, GatewaySettings(approval_working_days=10)):
        assert ({"provider": "health", "state": "overdue"}) in [
            attributes for n, attributes in approval_metrics.deadlines().observe() if n == 1
        ]
    assert approval_metrics.deadlines().observe() == []


def audit_chain(name: str, n: int) -> list[AuditRecord]:
    state = ChainState()
    at = dt.datetime.now(dt.UTC).isoformat()
    return [
        append(state, AuditRecord(kind="policy", at=at, chain=name, seq=0, detail=f"step {i}"))
        for i in range(n)
    ]


def test_an_altered_audit_record_counts_as_a_chain_break(
    bootstrap: str, runtime: ConnectionSettings, uid: str, caplog: pytest.LogCaptureFixture
) -> None:
    intact, tampered = f"test|intact|{uid}", f"test|tampered|{uid}"
    records = audit_chain(intact, 3) + audit_chain(tampered, 3)
    # Someone with write access to the topic edits the second record of one chain.
    records[4] = replace(records[4], detail="step 1, rewritten")
    producer = Producer(client_config(bootstrap))
    for rec in records:
        producer.produce(AUDIT, rec.to_json(), rec.chain.encode())
    assert producer.flush(30) == 0

    reader = InMemoryMetricReader()
    monitor = ChainMonitor(telemetry.AuditMetrics(meter(reader)))
    assert points(reader, "govbus.audit.chain_breaks") == [({}, 0)]  # there before any break
    store = TraceIndexStore(runtime.pg)
    store.init()
    indexer = TraceIndexer(bootstrap, store, group=f"chain-watch-{uid}", monitor=monitor)
    caplog.set_level(logging.ERROR, logger="govbus.audit_watch")
    follower = threading.Thread(target=indexer.run)
    follower.start()
    try:
        assert wait_until(lambda: f"{tampered}#2" in caplog.text, 180), caplog.text
    finally:
        indexer.stop.set()
        follower.join(timeout=30)
        indexer.close()
    ((_, breaks),) = points(reader, "govbus.audit.chain_breaks")
    assert breaks >= 1
    # The edited record no longer matches its hash; the next one still links to the hash
    # the edited record claims, so one record is counted for this chain.
    mine = [line for line in caplog.text.splitlines() if uid in line]
    assert len(mine) == 1, mine
    assert "hash does not match its content" in mine[0]
    assert intact not in caplog.text

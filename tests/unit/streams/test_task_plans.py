"""The pipeline's per-task plans: what each task commits in its own transaction, and the
working state that lets the next batch be decided while the previous one commits."""

from __future__ import annotations

import json
from dataclasses import replace

from govbus.schemas.audit import AuditRecord
from govbus.schemas.topics import AUDIT, PROGRESS, SCHEMAS
from govbus.streams.messages import Output
from govbus.streams.pipeline import Plan
from tests.unit.streams.test_pipeline import encoded_birth, make_pipeline


def _by_partition(partition: int) -> int:
    return partition


def _progress(outputs: list[Output]) -> dict[str, int]:
    return {
        (o.key or b"").decode(): json.loads(o.value or b"{}")["next_offset"]
        for o in outputs
        if o.topic == PROGRESS
    }


def _delivery_schemas(outputs: list[Output]) -> set[bytes]:
    return {(o.value or b"")[2:10] for o in outputs if o.topic.startswith("govbus.deliver.")}


def _schema_records(outputs: list[Output]) -> set[bytes]:
    return {bytes.fromhex((o.key or b"").decode()) for o in outputs if o.topic == SCHEMAS}


def test_each_task_carries_its_own_inputs_progress_and_the_schemas_its_deliveries_need() -> None:
    pipe, _, _ = make_pipeline()
    first, _, _ = encoded_birth(0)
    second, _, _ = encoded_birth(1)
    plan = pipe.decide([first, replace(second, partition=1, offset=0)], _by_partition)
    assert set(plan.tasks) == {0, 1}
    for task, plan_of_task in plan.tasks.items():
        outputs = plan_of_task.outputs
        assert _progress(outputs) == {f"t|{first.topic}|{task}": 1}
        audit = [AuditRecord.from_json(o.value or b"") for o in outputs if o.topic == AUDIT]
        assert {r.input for r in audit} == {f"{first.topic}/{task}/0"}
        # Tasks commit apart: a delivery must never be readable before its schema.
        assert _delivery_schemas(outputs) <= _schema_records(outputs)
        assert outputs[-1].topic == PROGRESS


def test_the_next_batch_builds_on_the_one_still_committing_and_a_rewind_forgets_it() -> None:
    pipe, _, _ = make_pipeline()
    pipe.load({}, [(encoded_birth(0)[0].topic, 0)])
    one = pipe.decide([encoded_birth(0)[0], encoded_birth(1)[0]], _by_partition)
    two = pipe.decide([encoded_birth(2)[0]], _by_partition)
    # Decided on top of batch one: the audit chain and the offsets continue.
    last_of_one = _last_audit(one)
    first_of_two = _first_audit(two)
    assert first_of_two.prev_hash == last_of_one.hash
    assert first_of_two.seq == last_of_one.seq + 1
    assert _progress(two.tasks[0].outputs) == {f"t|{encoded_birth(0)[0].topic}|0": 3}
    # Batch one's commit failed: both are forgotten, and the inputs are fresh again.
    pipe.rewind(two.tasks[0].states)
    again = pipe.decide([encoded_birth(0)[0]], _by_partition)
    assert again.result.counts["already_committed"] == 0
    assert _first_audit(again).seq == 1


def test_committed_inputs_are_skipped_and_their_schemas_not_sent_again() -> None:
    pipe, _, _ = make_pipeline()
    plan = pipe.decide([encoded_birth(0)[0]], _by_partition)
    pipe.committed(plan.tasks[0])
    assert pipe.decide([encoded_birth(0)[0]], _by_partition).result.counts["already_committed"] == 1
    later = pipe.decide([encoded_birth(1)[0]], _by_partition)
    assert _schema_records(later.tasks[0].outputs) == set()


def _audit(plan: Plan) -> list[AuditRecord]:
    return [
        AuditRecord.from_json(o.value or b"")
        for task in plan.tasks.values()
        for o in task.outputs
        if o.topic == AUDIT
    ]


def _first_audit(plan: Plan) -> AuditRecord:
    return _audit(plan)[0]


def _last_audit(plan: Plan) -> AuditRecord:
    return _audit(plan)[-1]

"""Worker tasks: the unit of ownership, fencing and progress.

Task *t* of a worker group is every input partition whose number is *t* modulo the task
count, across all event topics. The group's members own tasks, not partitions: Faust's
consumer group assigns the partitions of the task topic (``govbus.tasks``, one partition per
task), and the member holding partition *t* of it processes task *t*.

Each task commits through a transactional producer whose id names the task. A member that
takes a task over initialises that id first, which fences whoever held it before: a worker
that was paused, partitioned away or slow to notice a rebalance can commit nothing for a
task it lost. Each lane (``schemas.topics.LANES``) has its own runner and so its own
transactional id per task: the real-time lane keeps ``<app>.task-<t>``, the bulk lane is
``<app>.bulk.task-<t>``; a member taking task *t* over fences both. Pure: no Kafka here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from govbus.schemas.topics import REALTIME, Lane, check_lane

TP = tuple[str, int]


def task_of(partition: int, tasks: int) -> int:
    return partition % tasks


def transactional_id(app_id: str, task: int, lane: Lane = REALTIME) -> str:
    if check_lane(lane) == REALTIME:
        return f"{app_id}.task-{task}"
    return f"{app_id}.{lane}.task-{task}"


def task_partitions(task: int, tasks: int, partitions_by_topic: Mapping[str, int]) -> list[TP]:
    """The input partitions of ``task``: every partition p of every topic with p ≡ task."""
    return [
        (topic, p)
        for topic, count in sorted(partitions_by_topic.items())
        for p in range(task, count, tasks)
    ]


def tasks_of(tps: Iterable[TP], tasks: int) -> set[int]:
    return {task_of(p, tasks) for _, p in tps}

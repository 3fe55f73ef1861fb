"""The worker's data plane: one thread that reads batches of the tasks this worker owns,
decides them, and commits each task's share in that task's own transaction.

Deciding batch k+1 overlaps committing batch k (the commits run on a small pool, one task per
thread). Ownership changes come in from Faust's rebalance callbacks as commands, applied
between batches:

- **take over** tasks: initialise each task's transactional id (fencing whoever held it),
  read the progress markers of its partitions, then read those partitions from there;
- **give up** tasks: wait for their commits in flight, then stop reading them.

A commit that fails rewinds its task to the committed progress and reads it again; a task
whose producer was fenced is given up at once (its inputs are someone else's now) and is
never re-initialised until the group assigns it again.

A worker runs one runner per lane (``schemas.topics.LANES``), each with its own feed, its
own producers (transactional ids per lane and task) and its own progress markers (they name
the lane's topics), so fencing and take-over work per lane alike and a bulk backlog never
shares a batch or a fetch queue with a real-time event. The real-time runner holds the
shared :class:`Priority` while it has work; the bulk runner yields to it.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

import redis
from confluent_kafka import KafkaException

from govbus.schemas.topics import REALTIME, Lane
from govbus.streams.feed import Feed
from govbus.streams.messages import InMessage
from govbus.streams.pipeline import Pipeline, Plan, TaskPlan
from govbus.streams.priority import Priority
from govbus.streams.sink import Fenced, ProducerBroken, TransactionalProducer
from govbus.streams.tasks import TP, task_of, task_partitions

log = logging.getLogger(__name__)
RETRY_BACKOFF_S = (0.2, 0.5, 1.0, 2.0, 5.0)
GIVE_UP_WAIT_S = 30.0
LAG_EVERY_S = 1.0
TAKE_OVER_ATTEMPTS = 5


@dataclass
class RunnerSettings:
    max_batch: int = 500
    wait_s: float = 0.1  # how long one poll waits for a first event (commands wait that long)
    # While the previous batch commits, a batch closes this long after its first event (or
    # when full); with nothing committing it closes at once.
    linger_s: float = 0.005
    commit_threads: int = 4


@dataclass
class _Command:
    kind: str  # "take" | "give_up" | "stop"
    tasks: frozenset[int]
    done: Future[None] = field(default_factory=Future)


class Runner:
    def __init__(
        self,
        pipeline: Pipeline,
        feed: Feed,
        *,
        app_id: str,
        task_count: int,
        new_producer: Callable[[int], TransactionalProducer],
        read_progress: Callable[[list[TP]], dict[TP, dict[str, object]]],
        partitions_by_topic: Callable[[], Mapping[str, int]],
        settings: RunnerSettings | None = None,
        lane: Lane = REALTIME,
        priority: Priority | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.lane = lane
        # Real-time holds it while it has work; any other lane waits for it between batches.
        self._priority = priority
        self.feed = feed
        self.app_id = app_id
        self.task_count = task_count
        self.settings = settings or RunnerSettings()
        self._new_producer = new_producer
        self._read_progress = read_progress
        self._partitions_by_topic = partitions_by_topic
        self._producers: dict[int, TransactionalProducer] = {}
        self._partitions: dict[int, list[TP]] = {}
        self._commands: queue.Queue[_Command] = queue.Queue()
        self._pool = ThreadPoolExecutor(self.settings.commit_threads, f"govbus-commit-{lane}")
        self._pending: dict[int, tuple[TaskPlan, Future[None]]] = {}
        self._failures = 0
        self._lag_reported = 0.0
        self.last_loop = time.monotonic()
        # Set once the first assignment was taken over (tasks fenced, progress read).
        self.ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"govbus-runner-{lane}", daemon=True)

    # -- called from Faust's event loop (through asyncio.wrap_future) ---------------------

    def start(self) -> None:
        self._thread.start()

    def alive(self) -> bool:
        return self._thread.is_alive()

    def take_over(self, tasks: set[int]) -> Future[None]:
        return self._command("take", tasks)

    def give_up(self, tasks: set[int]) -> Future[None]:
        return self._command("give_up", tasks)

    def stop(self) -> Future[None]:
        return self._command("stop", set())

    def _command(self, kind: str, tasks: set[int]) -> Future[None]:
        command = _Command(kind, frozenset(tasks))
        self._commands.put(command)
        return command.done

    @property
    def owned(self) -> frozenset[int]:
        return frozenset(self._producers)

    # -- the thread -----------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                self.last_loop = time.monotonic()
                if not self._apply_commands():
                    return
                self._step()
        except Exception:
            log.exception("unexpected error in the worker's runner; exiting so nothing is acked")
            os._exit(70)

    def _apply_commands(self) -> bool:
        while True:
            try:
                command = self._commands.get_nowait()
            except queue.Empty:
                return True
            try:
                if command.kind == "stop":
                    self._finish_pending()
                    self._drop(set(self._producers))
                    self._pool.shutdown(wait=True)
                    command.done.set_result(None)
                    return False
                if command.kind == "give_up":
                    self._finish_pending()
                    self._drop(set(command.tasks))
                else:
                    self._take(set(command.tasks) - set(self._producers))
                    self.ready.set()
                command.done.set_result(None)
            except BaseException as exc:
                command.done.set_exception(exc)
                raise

    def _step(self) -> None:
        s = self.settings
        priority = self._priority
        holds = priority if self.lane == REALTIME else None
        if priority is not None and holds is None:
            priority.wait_free()  # a lower lane: real-time work first
        assigned = self.feed.assigned
        # A partition given up a moment ago may still have a message or two in flight.
        # Gather more only while the previous batch is still committing: this batch could not
        # be committed before that anyway, and an idle worker adds no delay to an event.
        batch = [
            m
            for m in self.feed.poll(s.max_batch, s.wait_s, s.linger_s, busy=self._committing)
            if (m.topic, m.partition) in assigned
        ]
        if holds is None or not batch:
            self._decide_and_commit(batch, None)
            return
        # Held from the read on; each commit holds it until that commit is done.
        holds.hold()
        try:
            self._decide_and_commit(batch, holds)
        finally:
            holds.release()

    def _decide_and_commit(self, batch: list[InMessage], holds: Priority | None) -> None:
        plan: Plan | None = None
        if batch:
            try:
                plan = self.pipeline.decide(batch, self._task_of)
            except redis.RedisError as exc:
                # Nothing of this batch was decided: read it again once Redis answers.
                self._finish_pending()
                self._rewind_partitions({(m.topic, m.partition) for m in batch})
                self._back_off("deciding a batch failed (Redis); reading it again", exc)
                return
        self._finish_pending(plan)
        if plan is not None:
            for task, task_plan in plan.tasks.items():
                producer = self._producers.get(task)
                if producer is not None:
                    future = self._pool.submit(producer.commit, task_plan.outputs)
                    if holds is not None:
                        holds.hold_until_done(future)
                    self._pending[task] = (task_plan, future)
        self._report_lag()

    def _committing(self) -> bool:
        return any(not future.done() for _, future in self._pending.values())

    def _task_of(self, partition: int) -> int:
        return task_of(partition, self.task_count)

    def _report_lag(self) -> None:
        now = time.monotonic()
        if now - self._lag_reported < LAG_EVERY_S:
            return
        self._lag_reported = now
        for (topic, partition), lag in self.feed.lag().items():
            self.pipeline.metrics.lag.set(lag, {"topic": topic, "partition": partition})

    def _finish_pending(self, next_plan: Plan | None = None) -> None:
        """Wait for the commits in flight and account for them. A task whose commit failed
        is rewound (or given up, if fenced), and what ``next_plan`` decided for it on top of
        the failed batch is dropped."""
        if not self._pending:
            return
        wait([f for _, f in self._pending.values()])
        pending, self._pending = self._pending, {}
        failed = False
        for task, (task_plan, future) in sorted(pending.items()):
            exc = future.exception()
            if exc is None:
                self.pipeline.committed(task_plan)
                continue
            failed = True
            if next_plan is not None:
                next_plan.tasks.pop(task, None)
            if isinstance(exc, Fenced):
                log.warning(
                    "task taken over by another worker; giving it up",
                    extra={"task": task, "error": str(exc)},
                )
                self._drop({task})
            elif isinstance(exc, ProducerBroken):
                log.error(
                    "task's producer broke; taking the task over again",
                    extra={"task": task, "error": str(exc)},
                )
                self._drop({task})
                self._take({task})
            elif isinstance(exc, KafkaException):
                self._rewind_task(task)
                log.warning(
                    "commit failed; reading the task again", extra={"task": task, "error": str(exc)}
                )
            else:
                raise exc
        if failed:
            self._back_off("a commit failed", None)
        else:
            self._failures = 0

    def _back_off(self, what: str, exc: BaseException | None) -> None:
        delay = RETRY_BACKOFF_S[min(self._failures, len(RETRY_BACKOFF_S) - 1)]
        self._failures += 1
        log.warning(what, extra={"error": str(exc) if exc else "", "retry_in_s": delay})
        time.sleep(delay)

    # -- ownership --------------------------------------------------------------------------

    def _take(self, tasks: set[int]) -> None:
        """Fence every earlier holder of each task, then start from its committed progress."""
        if not tasks:
            return
        started = time.monotonic()
        counts = self._partitions_by_topic()
        # The fences in parallel (each is a few round trips to the transaction coordinator).
        fenced = dict(zip(sorted(tasks), self._pool.map(self._fence, sorted(tasks)), strict=True))
        for task, producer in fenced.items():
            self._producers[task] = producer
            self._partitions[task] = task_partitions(task, self.task_count, counts)
        tps = [tp for task in tasks for tp in self._partitions[task]]
        # Only after the fences: whatever a predecessor committed is now in the markers.
        self.pipeline.load(self._read_progress(tps), tps)
        self.feed.assign({tp: self.pipeline.next_offset(tp) for tp in tps})
        log.info(
            "tasks taken over",
            extra={
                "tasks": sorted(tasks),
                "partitions": len(tps),
                "seconds": round(time.monotonic() - started, 2),
            },
        )

    def _fence(self, task: int) -> TransactionalProducer:
        """A new producer for the task's transactional id; retried while Kafka is away (a
        rebalance often follows a broker restart)."""
        for attempt in range(TAKE_OVER_ATTEMPTS):
            try:
                return self._new_producer(task)
            except KafkaException as exc:
                if attempt == TAKE_OVER_ATTEMPTS - 1 or exc.args[0].fatal():
                    raise
                self._back_off("taking a task over failed; trying again", exc)
        raise AssertionError("unreachable")

    def _drop(self, tasks: set[int]) -> None:
        for task in tasks:
            producer = self._producers.pop(task, None)
            tps = self._partitions.pop(task, [])
            self.feed.unassign(tps)
            self.pipeline.forget(tps)
            if producer is not None:
                producer.close()
        if tasks:
            log.info("tasks given up", extra={"tasks": sorted(tasks)})

    def _rewind_task(self, task: int) -> None:
        self._rewind_partitions(set(self._partitions.get(task, [])))

    def _rewind_partitions(self, tps: set[TP]) -> None:
        self.pipeline.rewind(tps)
        self.feed.rewind({tp: self.pipeline.next_offset(tp) for tp in tps})

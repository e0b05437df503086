"""The embedded engine's book of tasks: their run state, and keeping it in the lake.

``TaskBook`` holds every task the engine knows, under one lock. A task it does not know yet is
looked up in the lake (``local_state``): one another process ran, or is still running. Tasks of
another live process are *observed*: re-read from the lake on every describe, never started here.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from sqlfleet.engines.base import TableStatistics, TaskRef, TaskSpec, TaskStats, TaskStatus, TaskStatusName
from sqlfleet.engines.local_state import (
    ACTIVE_STATUSES,
    EngineOwner,
    StoredTask,
    TaskStateStore,
    owner_alive,
    register_engine,
)
from sqlfleet.errors import SqlfleetError
from sqlfleet.lake import Lake

log = logging.getLogger("sqlfleet.engines.local")


class LocalTask:
    """Mutable run state of one embedded-engine task, guarded by its ``TaskBook``'s lock."""

    def __init__(self, ref: TaskRef, spec: TaskSpec) -> None:
        self.ref = ref
        self.spec = spec
        self.status: TaskStatusName = "ready"
        self.stop_reason: str | None = None
        self.failure: str | None = None
        self.tables: dict[tuple[str, str], TableStatistics] = {}
        self.start_date: datetime | None = None
        self.stop_date: datetime | None = None
        self.started_monotonic = 0.0
        self.elapsed_ms = 0
        self.runs = 0
        self.recovery_checkpoint: str | None = None
        #: Serializes this task's writes to the lake, so the last write holds the latest state.
        self.write_lock = threading.Lock()

    @classmethod
    def from_stored(cls, stored: StoredTask) -> LocalTask:
        """The task as the lake holds it."""
        task = cls(stored.ref, stored.spec)
        status = stored.status
        task.status = status.status
        task.stop_reason = status.stop_reason
        task.failure = status.last_failure_message
        task.tables = {(t.schema_name, t.table_name): t for t in stored.tables}
        task.start_date = status.stats.start_date
        task.stop_date = status.stats.stop_date
        task.elapsed_ms = status.stats.elapsed_time_millis
        task.started_monotonic = time.monotonic() - task.elapsed_ms / 1000
        task.runs = stored.runs
        task.recovery_checkpoint = status.recovery_checkpoint
        return task

    def stored(self, owner: EngineOwner, now: datetime) -> StoredTask:
        """The state to keep in the lake (with its owner while it is active)."""
        active = self.status in ACTIVE_STATUSES
        return StoredTask(
            ref=self.ref,
            spec=self.spec,
            status=self.snapshot(),
            tables=tuple(self.tables[k] for k in sorted(self.tables)),
            runs=self.runs,
            owner=owner if active else None,
            written_at=now,
        )

    def snapshot(self) -> TaskStatus:
        """The task as ``DescribeReplicationTasks`` shows it."""
        states = [t.table_state for t in self.tables.values()]
        done = sum(s == "Table completed" for s in states)
        total = len(states)
        elapsed = self.elapsed_ms
        if self.status == "running":
            elapsed = int((time.monotonic() - self.started_monotonic) * 1000)
        return TaskStatus(
            identifier=self.ref.identifier,
            arn=self.ref.arn,
            status=self.status,
            stop_reason=self.stop_reason,
            last_failure_message=self.failure,
            recovery_checkpoint=self.recovery_checkpoint,
            stats=TaskStats(
                full_load_progress_percent=int(100 * done / total) if total else 0,
                elapsed_time_millis=elapsed,
                tables_loaded=done,
                tables_loading=sum(s == "Full load" for s in states),
                tables_queued=sum(s == "Before load" for s in states),
                tables_errored=sum(s == "Table error" for s in states),
                start_date=self.start_date,
                stop_date=self.stop_date,
            ),
        )


class TaskBook:
    """The tasks of one engine, and their state in the lake."""

    def __init__(
        self, lake: Lake, engine: object, *, clock: Callable[[], datetime], heartbeat_seconds: float = 60.0
    ) -> None:
        self.lock = threading.Lock()
        self.tasks: dict[str, LocalTask] = {}
        self.clock = clock
        self.heartbeat_seconds = heartbeat_seconds
        self._store = TaskStateStore(lake)
        self.owner = EngineOwner.new()
        #: Tasks another live process runs: observed through the lake, never started here.
        self._observed: set[str] = set()
        self._heartbeat: threading.Thread | None = None
        register_engine(self.owner, engine)

    def observed(self, identifier: str) -> bool:
        """Whether another live process runs this task."""
        with self.lock:
            return identifier in self._observed

    def load(self, identifier: str) -> None:
        """Know a task another engine (or process) ran, from its state in the lake."""
        with self.lock:
            if identifier in self.tasks:
                return
        stored = self._store.read(identifier)
        if stored is None:
            return
        stored, observed = self._adopt(stored)
        with self.lock:
            if identifier in self.tasks:  # another thread loaded it meanwhile
                return
            self.tasks[identifier] = LocalTask.from_stored(stored)
            if observed:
                self._observed.add(identifier)

    def _adopt(self, stored: StoredTask) -> tuple[StoredTask, bool]:
        """(the state to use, whether another live process runs the task)."""
        if stored.status.status not in ACTIVE_STATUSES or stored.owner is None:
            return stored, False
        now = self.clock()
        stale = timedelta(seconds=3 * self.heartbeat_seconds)
        if owner_alive(stored.owner, stored.written_at, now, stale):
            return stored, stored.owner.engine != self.owner.engine
        orphaned = stored.orphaned(now)
        self._store.write(orphaned)
        log.warning("%s: %s", stored.ref.identifier, orphaned.status.last_failure_message)
        return orphaned, False

    def refresh(self, tasks: Sequence[TaskRef]) -> None:
        """Re-read the tasks another process runs, until they end (or their process does)."""
        with self.lock:
            observed = [t.identifier for t in tasks if t.identifier in self._observed]
        for identifier in observed:
            stored = self._store.read(identifier)
            if stored is None:
                continue
            stored, still = self._adopt(stored)
            with self.lock:
                self.tasks[identifier] = LocalTask.from_stored(stored)
                if not still:
                    self._observed.discard(identifier)

    def persist(self, task: LocalTask, change: Callable[[LocalTask], None] | None = None) -> None:
        """Write the task's current state (writes of one task never reorder).

        With ``change`` (a run's end), the changed state is written first and applied here after:
        a caller that sees the end here may hand the task to a new engine or process, which reads
        only the lake (as DMS shows one status to every client). It is applied even if the write fails.
        """
        with task.write_lock:
            with self.lock:
                state = task
                if change is not None:
                    state = copy.copy(task)
                    change(state)
                stored = state.stored(self.owner, self.clock())
            try:
                self._store.write(stored)
            finally:
                if change is not None:
                    with self.lock:
                        change(task)

    def persist_quietly(self, task: LocalTask, change: Callable[[LocalTask], None] | None = None) -> None:
        """``persist``, logging a failure: the run goes on (a later transition writes again)."""
        try:
            self.persist(task, change)
        except SqlfleetError as exc:
            log.warning("%s: its state was not written to the lake: %s", task.ref.identifier, exc)

    def start_heartbeat(self) -> None:
        """Keep rewriting the active tasks' state while any runs."""
        with self.lock:
            if self._heartbeat is not None and self._heartbeat.is_alive():
                return
            self._heartbeat = threading.Thread(target=self._beat, name="sqlfleet-local-heartbeat", daemon=True)
        self._heartbeat.start()

    def _beat(self) -> None:
        """Rewrite running tasks' state every ``heartbeat_seconds``: other hosts tell a live owner by it."""
        while True:
            time.sleep(self.heartbeat_seconds)
            with self.lock:
                active = [t for i, t in self.tasks.items() if t.status in ACTIVE_STATUSES and i not in self._observed]
                if not active:
                    self._heartbeat = None
                    return
            for task in active:
                self.persist_quietly(task)


__all__ = ["LocalTask", "TaskBook"]

"""One poller for every replication task of a fleet run.

Callers register the task they wait for and block; a single background thread describes all
registered tasks in one batched call per cycle (``DescribeReplicationTasks`` on DMS, never one
call per task, reference/dms.md §8) and wakes each caller when its task reaches a terminal
status. Every wait has a deadline.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from sqlfleet.dms.status import is_terminal
from sqlfleet.engines.base import ReplicationEngine, TaskRef, TaskStatus
from sqlfleet.errors import DeadlineExceededError, TransientError

log = logging.getLogger(__name__)


class _Waiter:
    def __init__(self, task: TaskRef) -> None:
        self.task = task
        self.done = threading.Event()
        self.status: TaskStatus | None = None
        self.error: BaseException | None = None


class TaskWatcher:
    """Batched polling of replication tasks; ``wait_for_task`` blocks until one ends."""

    def __init__(
        self,
        engine: ReplicationEngine,
        interval_seconds: float = 5.0,
        *,
        on_poll: Callable[[int], None] | None = None,
    ) -> None:
        self.engine = engine
        self.interval = interval_seconds
        self._on_poll = on_poll
        self._lock = threading.Lock()
        self._waiters: dict[str, list[_Waiter]] = {}
        self._thread: threading.Thread | None = None
        self.polls = 0

    def wait_for_task(self, task: TaskRef, deadline_seconds: float) -> TaskStatus:
        """Block until ``task`` is stopped or failed; ``DeadlineExceededError`` past the deadline."""
        waiter = _Waiter(task)
        with self._lock:
            self._waiters.setdefault(task.identifier, []).append(waiter)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._poll_loop, name="sqlfleet-task-watcher", daemon=True)
                self._thread.start()
        if not waiter.done.wait(timeout=deadline_seconds):
            self._forget(waiter)
            raise DeadlineExceededError(
                f"task {task.identifier} did not finish within {deadline_seconds:.0f} s; it may still be running"
            )
        if waiter.error is not None:
            raise waiter.error
        assert waiter.status is not None
        return waiter.status

    def _forget(self, waiter: _Waiter) -> None:
        with self._lock:
            waiters = self._waiters.get(waiter.task.identifier, [])
            if waiter in waiters:
                waiters.remove(waiter)
            if not waiters:
                self._waiters.pop(waiter.task.identifier, None)

    def _poll_loop(self) -> None:
        consecutive_errors = 0
        while True:
            with self._lock:
                if not self._waiters:
                    self._thread = None
                    return
                tasks = [ws[0].task for ws in self._waiters.values()]
            try:
                statuses = self.engine.describe_tasks(tasks)
                consecutive_errors = 0
            except TransientError as exc:
                consecutive_errors += 1
                log.warning("describing %d task(s) failed (%s); retrying", len(tasks), exc)
                time.sleep(min(60.0, self.interval * 2**consecutive_errors))
                continue
            except Exception as exc:
                self._fail_all(exc)
                continue
            self.polls += 1
            if self._on_poll is not None:
                self._on_poll(len(tasks))
            with self._lock:
                for identifier, status in statuses.items():
                    if is_terminal(status.status):
                        for waiter in self._waiters.pop(identifier, []):
                            waiter.status = status
                            waiter.done.set()
            time.sleep(self.interval)

    def _fail_all(self, exc: BaseException) -> None:
        with self._lock:
            waiters = [w for ws in self._waiters.values() for w in ws]
            self._waiters.clear()
        for waiter in waiters:
            waiter.error = exc
            waiter.done.set()

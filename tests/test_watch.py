"""One batched poller for many tasks, with deadlines."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence

import pytest

from sqlfleet.engines.base import StartType, TableStatistics, TaskRef, TaskSpec, TaskStatus
from sqlfleet.errors import DeadlineExceededError, TransientError
from sqlfleet.watch import TaskWatcher


class ScriptedEngine:
    """An engine whose tasks stop after a set number of polls; it counts describe calls."""

    def __init__(self, polls_until_stop: dict[str, int], flaky_calls: int = 0) -> None:
        self.remaining = dict(polls_until_stop)
        self.calls: list[int] = []
        self.flaky = flaky_calls
        self.lock = threading.Lock()

    def ensure_task(self, spec: TaskSpec) -> TaskRef:
        raise NotImplementedError

    def start_task(self, task: TaskRef, start_type: StartType) -> None:
        raise NotImplementedError

    def table_statistics(self, task: TaskRef) -> Sequence[TableStatistics]:
        return []

    def describe_tasks(self, tasks: Sequence[TaskRef]) -> Mapping[str, TaskStatus]:
        with self.lock:
            if self.flaky:
                self.flaky -= 1
                raise TransientError("throttled")
            self.calls.append(len(tasks))
            out = {}
            for t in tasks:
                left = self.remaining.get(t.identifier, 10**9)
                self.remaining[t.identifier] = left - 1
                out[t.identifier] = TaskStatus(
                    identifier=t.identifier, arn=t.arn, status="stopped" if left <= 1 else "running"
                )
            return out


def ref(name: str) -> TaskRef:
    return TaskRef(identifier=name, database=name, migration_type="full-load", arn=f"arn:{name}")


def test_many_waiters_share_one_describe_call_per_cycle() -> None:
    engine = ScriptedEngine({f"t{i}": 3 + i % 3 for i in range(20)})
    # Cycles long enough that all 20 waiters join within the first ones even on a loaded machine.
    watcher = TaskWatcher(engine, interval_seconds=0.1)
    results: dict[str, str] = {}
    together = threading.Barrier(20, timeout=30)

    def wait(name: str) -> None:
        together.wait()
        results[name] = watcher.wait_for_task(ref(name), deadline_seconds=10).status

    threads = [threading.Thread(target=wait, args=(f"t{i}",)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {f"t{i}": "stopped" for i in range(20)}
    # Every task needed 3-5 polls; one call per cycle serves them all.
    assert len(engine.calls) <= 12 and max(engine.calls) > 1


def test_a_wait_past_its_deadline_raises_and_transient_errors_are_retried() -> None:
    engine = ScriptedEngine({"slow": 10**6, "ok": 2}, flaky_calls=1)
    watcher = TaskWatcher(engine, interval_seconds=0.01)
    started = time.monotonic()
    with pytest.raises(DeadlineExceededError, match="slow"):
        watcher.wait_for_task(ref("slow"), deadline_seconds=0.3)
    assert time.monotonic() - started < 5
    assert watcher.wait_for_task(ref("ok"), deadline_seconds=10).status == "stopped"

"""The embedded engine's task state in the lake: read by a new process, failed when its process died."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sqlfleet import layout
from sqlfleet.engines.base import STOP_FULL_LOAD_FINISHED, SelectionRules, TaskStatus
from sqlfleet.engines.local import LocalEngine
from sqlfleet.engines.local_state import EngineOwner, StoredTask, TaskStateStore, _process_started
from sqlfleet.errors import ReplicationError
from sqlfleet.lake import Lake
from tests.test_engine_local import make_source, run_task, spec_for


@pytest.fixture
def source(tmp_path: Path) -> Path:
    return make_source(tmp_path / "zoo.db")


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    return Lake.from_url(f"file://{tmp_path / 'lake'}")


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def test_a_new_engine_reads_the_state_and_statistics_an_earlier_one_left(source: Path, lake: Lake) -> None:
    first = LocalEngine(lake)
    spec = spec_for(source, tables=SelectionRules(exclude=("broken",)))
    ref = first.ensure_task(spec)
    status = run_task(first, ref)
    assert status.status == "stopped"
    stored = TaskStateStore(lake).read(ref.identifier)
    assert stored is not None and stored.owner is None and stored.runs == 1
    assert layout.engine_task_key(ref.identifier) == f"_sqlfleet/engine/local/{ref.identifier}.json"
    assert (Path(lake.path(layout.engine_task_key(ref.identifier)))).is_file()

    later = LocalEngine(lake)  # as a verify-only run in another process would
    found = later.find_task("zoo_db", "full-load")
    assert found == ref and later.find_task("zoo_db", "cdc") is None
    again = later.describe_tasks([ref])[ref.identifier]
    assert again.status == "stopped" and again.stop_reason == STOP_FULL_LOAD_FINISHED
    assert again.stats.tables_loaded == status.stats.tables_loaded == 4
    assert [t.full_load_rows for t in later.table_statistics(ref)] == [
        t.full_load_rows for t in first.table_statistics(ref)
    ]
    with pytest.raises(ReplicationError, match="already ran"):
        later.start_task(later.ensure_task(spec), "start-replication")
    assert run_task(later, ref, "reload-target").status == "stopped"
    assert TaskStateStore(lake).read(ref.identifier).runs == 2  # type: ignore[union-attr]


def _running_state(spec_source: Path, owner: EngineOwner) -> StoredTask:
    spec = spec_for(spec_source)
    engine = LocalEngine(Lake.from_url("file:///tmp/unused-sqlfleet-lake"))
    ref = engine.ensure_task(spec)
    return StoredTask(
        ref=ref,
        spec=spec,
        status=TaskStatus(identifier=ref.identifier, arn=ref.arn, status="running"),
        runs=1,
        owner=owner,
        written_at=_now(),
    )


def test_a_task_whose_process_died_is_reported_failed_and_can_start_again(source: Path, lake: Lake) -> None:
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, check=True)
    pid = int(gone.stdout)
    owner = EngineOwner.new().model_copy(update={"pid": pid, "process_started": "1"})
    TaskStateStore(lake).write(_running_state(source, owner))

    engine = LocalEngine(lake)
    ref = engine.ensure_task(spec_for(source))
    status = engine.describe_tasks([ref])[ref.identifier]
    assert status.status == "failed" and status.stop_reason == "Stop Reason FATAL_ERROR"
    assert f"the process running this task exited (pid {pid} on" in (status.last_failure_message or "")
    assert TaskStateStore(lake).read(ref.identifier).status.status == "failed"  # type: ignore[union-attr]
    assert run_task(engine, ref, "reload-target").status == "stopped"  # it ran before: reload


def test_a_task_another_live_process_runs_is_observed_not_started(source: Path, lake: Lake) -> None:
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        time.sleep(0.2)
        owner = EngineOwner.new().model_copy(
            update={"pid": sleeper.pid, "process_started": _process_started(sleeper.pid)}
        )
        running = _running_state(source, owner)
        store = TaskStateStore(lake)
        store.write(running)
        engine = LocalEngine(lake)
        ref = engine.ensure_task(spec_for(source))
        assert engine.describe_tasks([ref])[ref.identifier].status == "running"
        with pytest.raises(ReplicationError, match="cannot be started"):
            engine.start_task(ref, "reload-target")
        # The other process finishes: the next describe reads it from the lake.
        stopped = running.status.model_copy(update={"status": "stopped", "stop_reason": STOP_FULL_LOAD_FINISHED})
        store.write(running.model_copy(update={"status": stopped, "owner": None, "written_at": _now()}))
        assert engine.describe_tasks([ref])[ref.identifier].status == "stopped"
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_run_is_seen_ended_only_once_the_lake_holds_its_end(
    source: Path, lake: Lake, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A caller that sees a task stopped may hand it to a new process (verify-only, load-only),
    which reads only the lake: the end must be written there first, however slow the write."""
    write = TaskStateStore.write

    def slow_write(store: TaskStateStore, state: StoredTask) -> None:
        if state.status.status not in {"starting", "running"}:
            time.sleep(0.5)
        write(store, state)

    monkeypatch.setattr(TaskStateStore, "write", slow_write)
    first = LocalEngine(lake)
    ref = first.ensure_task(spec_for(source, tables=SelectionRules(exclude=("broken",))))
    assert run_task(first, ref).status == "stopped"
    later = LocalEngine(lake)
    assert later.find_task("zoo_db", "full-load") == ref
    status = later.describe_tasks([ref])[ref.identifier]
    assert (status.status, status.stop_reason) == ("stopped", STOP_FULL_LOAD_FINISHED)

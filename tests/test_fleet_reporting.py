"""What a fleet run shows and keeps while it runs, off the dispatcher's thread: artifacts, run records, lanes."""

from __future__ import annotations

import contextvars
import json
import logging
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from flows.lanes import LANE_IDLE_SECONDS, LaneBook, LaneEvent
from flows.publisher import Publisher
from sqlfleet.dispatch import FULL_LOAD_STEPS, Dispatch
from sqlfleet.lake import Lake
from sqlfleet.limits import Lane, LaneReady
from sqlfleet.run_journal import RunJournal
from sqlfleet.testing.instant import InstantEngine
from tests.fleet_support import ENGINES, create_limit, probe_fleet, tiny_fleet
from tests.test_resume import Ticks, outcome, plan_of, replication

LOG = logging.getLogger("test")


def latest_artifact(key: str) -> Any:
    """The newest version of a keyed artifact (``None`` if there is none)."""
    from prefect.artifacts import Artifact

    return Artifact.get(key)


def test_latest_publishes_the_newest_value_of_each_key_and_skips_the_ones_replaced() -> None:
    published: list[tuple[str, int]] = []
    first_started, release_first = threading.Event(), threading.Event()

    def publish(key: str, value: int) -> None:
        if not published and key == "progress":
            first_started.set()
            release_first.wait(10)
        published.append((key, value))

    publisher = Publisher(LOG)
    publisher.latest("progress", publish, "progress", 1)
    assert first_started.wait(10)
    # While the first value is being published, newer ones replace each other.
    for value in (2, 3, 4):
        publisher.latest("progress", publish, "progress", value)
    publisher.latest("table", publish, "table", 10)
    publisher.latest("progress", publish, "progress", 5)
    release_first.set()

    assert publisher.close(10) == 0
    # The table waited longest for its last value; 2, 3 and 4 were replaced before their turn.
    assert published == [("progress", 1), ("table", 10), ("progress", 5)]


def test_a_publication_that_fails_is_counted_and_the_next_ones_still_go_out() -> None:
    published: list[int] = []

    def publish(value: int) -> None:
        if value == 1:
            raise RuntimeError("the API is down")
        published.append(value)

    publisher = Publisher(LOG)
    publisher.latest("progress", publish, 1)
    assert publisher.settle_latest(10)
    publisher.latest("progress", publish, 2)
    publisher.submit(publish, 3)
    assert publisher.close(10) == 1
    assert sorted(published) == [2, 3]


def test_a_background_journal_has_written_every_record_when_flush_returns(tmp_path: Path) -> None:
    lake = Lake.from_url(f"file://{tmp_path / 'lake'}")
    journal = RunJournal(lake, "night-1", "full-load", attempt="flow-run-1", clock=Ticks(), background=True)
    names = [f"db{i:02d}" for i in range(20)]
    for name in names:
        assert journal.started(name, f"{name}-full")
        assert journal.replicated(name, replication(name), plan_of(tmp_path, name))
        assert journal.finished(outcome(name), None, "flow-run-1")
    assert journal.flush(30) == 0

    records = RunJournal(lake, "night-1", "full-load", attempt="flow-run-2").read()
    assert sorted(records) == names
    for record in records.values():
        assert record.started is not None and record.replicated is not None and record.finished is not None
        # Each record keeps the time it was made (in call order), not the time it was written.
        assert record.started.at < record.replicated.at < record.finished.at
    # The journal writes on after a flush (a new writer).
    assert journal.finished(outcome("late"), None, "flow-run-1")
    assert journal.flush(30) == 0
    assert "late" in RunJournal(lake, "night-1", "full-load", attempt="x").read()


def test_a_background_record_that_cannot_be_written_is_counted_by_flush(tmp_path: Path) -> None:
    lake = Lake.from_url(f"file://{tmp_path / 'lake'}")
    blocked = tmp_path / "lake" / "_sqlfleet" / "runs" / "night-1" / "blocked"
    blocked.parent.mkdir(parents=True)
    blocked.write_text("a file where the database's folder should be")
    journal = RunJournal(lake, "night-1", "full-load", attempt="flow-run-1", background=True)
    assert journal.started("blocked", "blocked-full")  # queued: the run goes on
    assert journal.started("fine", "fine-full")
    assert journal.flush(30) == 1
    assert lake.read_bytes("_sqlfleet/runs/night-1/fine/started.json") is not None


class HeldLane:
    """A lane held as soon as it is opened (on the caller's thread)."""

    def __init__(self, name: str, on_ready: LaneReady) -> None:
        self._name = name
        self.released = False
        self.on_ready = on_ready

    @property
    def name(self) -> str:
        return self._name

    def release(self) -> None:
        self.released = True

    def join(self, timeout: float) -> bool:
        return True


def test_the_first_lane_of_each_limit_is_asked_for_at_the_start_and_given_back_when_idle() -> None:
    opened: list[HeldLane] = []
    events: list[LaneEvent] = []

    def opener(name: str, on_ready: LaneReady) -> Lane:
        lane = HeldLane(name, on_ready)
        opened.append(lane)
        return lane

    now = [0.0]
    dispatch = Dispatch(
        [("a", "ri"), ("b", "ri")], FULL_LOAD_STEPS, engine_limits={"ri": 2}, warehouse_limit=2, max_in_flight=2
    )
    book = LaneBook(opener, {"ri": "engine-ri", None: "warehouse"}, events.append, clock=lambda: now[0])
    book.balance(dispatch)
    # Nothing is replicated yet, so nothing waits to load; the warehouse lane is asked for anyway.
    assert [lane.name for lane in opened] == ["engine-ri", "warehouse"]

    for lane in opened:
        lane.on_ready(lane, None)
    for event in events:
        book.settle(event)
    book.balance(dispatch)
    assert dispatch.capacity(None) == 1 and not opened[1].released
    # Replications running long: the spare warehouse lane goes back after LANE_IDLE_SECONDS.
    now[0] += LANE_IDLE_SECONDS + 1
    book.balance(dispatch)
    assert opened[1].released and dispatch.capacity(None) == 0
    # ... and is not asked for again until a database waits to load.
    book.balance(dispatch)
    assert [lane.name for lane in opened] == ["engine-ri", "warehouse"]


@pytest.mark.usefixtures("prefect_server")
def test_progress_and_the_live_fleet_table_are_published_while_the_run_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey

    from sqlfleet.limits import engine_limit_name

    monkeypatch.setenv("SQLFLEET_LAKE_URL", f"file://{tmp_path / 'lake'}")
    monkeypatch.setenv("SQLFLEET_ENABLED_VARIABLE", f"sqlfleet_enabled_{tmp_path.name.lower()[-20:]}")
    monkeypatch.setenv("SQLFLEET_POLL_INTERVAL_SECONDS", "0.02")
    monkeypatch.setenv("SQLFLEET_PROGRESS_EVERY_SECONDS", "0.5")
    instance = f"progress-{uuid.uuid4().hex[:8]}"
    create_limit(engine_limit_name(instance), 1)  # one replication at a time: the run lasts 8 × 0.5 s at least
    ENGINES[instance] = InstantEngine(tables=3, duration_seconds=0.5, instance=instance)
    names = [f"db{i}" for i in range(8)]
    catalog = tiny_fleet(tmp_path / "fleet", names)

    seen: list[tuple[Any, float]] = []  # (flow run, progress) as a watcher saw them during the run
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            progress = latest_artifact("sqlfleet-progress")
            if progress is not None:
                seen.append((progress.flow_run_id, float(progress.data)))
            time.sleep(0.05)

    watcher = threading.Thread(target=contextvars.copy_context().run, args=(watch,))
    watcher.start()
    try:
        state = probe_fleet(str(catalog), instance, "progress", str(tmp_path / "w.duckdb"), return_state=True)
    finally:
        stop.set()
        watcher.join(30)
    assert state.is_completed(), state.message
    run_id = state.state_details.flow_run_id

    def versions(key: str) -> list[Any]:
        """Every version of the run's artifact ``key``, oldest first (Prefect keeps each version)."""
        with get_client(sync_client=True) as client:
            found = client.read_artifacts(
                artifact_filter=ArtifactFilter(
                    key=ArtifactFilterKey(any_=[key]), flow_run_id=ArtifactFilterFlowRunId(any_=[run_id])
                )
            )
        return sorted(found, key=lambda artifact: artifact.created)

    # The progress artifact is one artifact updated in place: a watcher saw it between 0 and 100 %.
    during = sorted({p for flow_run, p in seen if flow_run == run_id})
    assert any(0 < p < 100 for p in during), during
    progress = latest_artifact("sqlfleet-progress")
    assert progress is not None and progress.flow_run_id == run_id and float(progress.data) == 100.0

    tables = versions("sqlfleet-fleet")
    final = latest_artifact("sqlfleet-fleet")
    assert final is not None and final.flow_run_id == run_id
    assert {r["database"]: r["status"] for r in json.loads(final.data)} == dict.fromkeys(names, "succeeded")
    live = [t for t in tables if t.id != final.id]
    assert live, "no live fleet table was published during the run"
    assert all(len(json.loads(t.data)) == len(names) for t in live)  # type: ignore[arg-type]
    assert any(r["status"] != "succeeded" for t in live for r in json.loads(t.data))  # type: ignore[arg-type]

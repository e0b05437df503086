"""Run keys, the run records in the lake, and what a rerun does with each database."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from sqlfleet import layout
from sqlfleet.catalog import parse_catalog, render_catalog
from sqlfleet.engines.base import TaskRef, TaskStatus
from sqlfleet.errors import LakeError
from sqlfleet.history import KEPT_RUNS, LakeHistory
from sqlfleet.lake import Lake
from sqlfleet.plan import DatabasePlan, build_plan
from sqlfleet.report import DatabaseOutcome, ReplicationResult
from sqlfleet.resume import DatabaseRecords, decide, default_run_key
from sqlfleet.run_journal import RunJournal
from sqlfleet.schedule import HistoryEntry

T0 = datetime(2026, 1, 1, 2, 0, 0)


class Ticks:
    """A clock that moves one second per reading."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def plan_of(tmp_path: Path, name: str) -> DatabasePlan:
    text = render_catalog([{"name": name, "enabled": True, "source": "sqlite:///x.db"}])
    catalog = parse_catalog(text, "test", tmp_path, check_sources=False)
    return build_plan(catalog.databases, "full-load", max_file_size_kb=1024, timestamp_column="_dms_ts").databases[0]


def replication(name: str) -> ReplicationResult:
    ref = TaskRef(identifier=f"{name}-full", database=name, migration_type="full-load", arn=f"arn:{name}")
    status = TaskStatus(identifier=ref.identifier, arn=ref.arn, status="stopped")
    return ReplicationResult(database=name, task=ref, start_type="reload-target", status=status, tables=(), seconds=2)


def outcome(name: str, failure: str = "") -> DatabaseOutcome:
    return DatabaseOutcome(database=name, status="failed" if failure else "succeeded", failure=failure)


def test_default_run_keys_name_the_night_or_the_delta() -> None:
    assert default_run_key("full-load", T0) == "2026-01-01-full-load"
    assert default_run_key("full-load-and-cdc", T0) == "2026-01-01-full-load-and-cdc"
    assert default_run_key("cdc", datetime(2026, 1, 1, 13, 15)) == "2026-01-01T131500-cdc"
    for bad in ("", "../x", "a/b", "-x", "x" * 101):
        with pytest.raises(ValueError, match="run key"):
            layout.check_run_key(bad)
    key = layout.run_record_key("2026-01-01-full-load", "sales", "finished")
    assert key == "_sqlfleet/runs/2026-01-01-full-load/sales/finished.json"
    assert layout.parse_run_record_key(key) == ("2026-01-01-full-load", "sales", "finished")
    assert layout.parse_run_record_key("_sqlfleet/runs/k/sales/other.json") is None


def test_records_round_trip_through_the_lake_and_decide_each_database(tmp_path: Path) -> None:
    lake = Lake.from_url(f"file://{tmp_path / 'lake'}")
    clock = Ticks()
    first = RunJournal(lake, "night-1", "full-load", attempt="flow-run-1", clock=clock)
    for name in ("done", "load_failed", "verify_failed", "cut_in_replication", "cut_after_replication"):
        assert first.started(name, f"{name}-full")
    for name in ("done", "load_failed", "verify_failed", "cut_after_replication"):
        assert first.replicated(name, replication(name), plan_of(tmp_path, name))
    first.finished(outcome("done"), None, "flow-run-1")
    first.finished(outcome("load_failed", "load: warehouse down"), "load", "flow-run-1")
    first.finished(outcome("verify_failed", "1 table(s) failed"), "verify", "flow-run-1")

    records = RunJournal(lake, "night-1", "full-load", attempt="flow-run-2").read()
    assert set(records) == {"done", "load_failed", "verify_failed", "cut_in_replication", "cut_after_replication"}
    assert records["done"].replicated is not None
    assert records["done"].replicated.replication.seconds == 2

    names = [*records, "never_started"]
    decisions = decide(names, records)
    assert {n: d.action for n, d in decisions.items()} == {
        "done": "skip",
        "load_failed": "resume",  # its replication is good: verify and load it again
        "verify_failed": "run",  # the files were wrong: replicate again
        "cut_in_replication": "run",
        "cut_after_replication": "resume",
        "never_started": "run",
    }
    assert decisions["done"].finished is not None and "flow-run-1" in decisions["done"].reason
    resumed = decisions["cut_after_replication"].replicated
    assert resumed is not None and resumed.plan.name == "cut_after_replication"

    only_failed = decide(names, records, only_failed=True)
    assert only_failed["never_started"].action == "skip" and only_failed["load_failed"].action == "resume"
    assert RunJournal(lake, "another-night", "full-load", attempt="x").read() == {}


def test_a_resumed_attempt_cut_short_resumes_again_and_a_later_success_is_skipped() -> None:
    from sqlfleet.resume import FinishedRecord, ReplicatedRecord, StartedRecord

    common = {"run_key": "k", "database": "a", "mode": "full-load"}
    started1 = StartedRecord(**common, attempt="1", at=T0, task="a-full")
    replicated1 = ReplicatedRecord(
        **common,
        attempt="1",
        at=T0 + timedelta(seconds=1),
        replication=replication("a"),
        plan=plan_of(Path("/tmp"), "a"),
    )
    failed1 = FinishedRecord(
        **common,
        attempt="1",
        at=T0 + timedelta(seconds=2),
        status="failed",
        failed_step="load",
        batch_id="1",
        outcome=outcome("a", "load: down"),
    )
    started2 = started1.model_copy(update={"attempt": "2", "at": T0 + timedelta(seconds=3)})
    cut = DatabaseRecords(started=started2, replicated=replicated1, finished=failed1)
    assert decide(["a"], {"a": cut})["a"].action == "resume"
    succeeded2 = failed1.model_copy(
        update={"attempt": "2", "at": T0 + timedelta(seconds=4), "status": "succeeded", "failed_step": None}
    )
    done = DatabaseRecords(started=started2, replicated=replicated1, finished=succeeded2)
    assert decide(["a"], {"a": done})["a"].action == "skip"


def test_a_damaged_record_stops_the_rerun_rather_than_guessing(tmp_path: Path) -> None:
    lake = Lake.from_url(f"file://{tmp_path / 'lake'}")
    with lake.open_output(layout.run_record_key("k", "a", "finished")) as out:
        out.write(b"{not json")
    with pytest.raises(LakeError, match="damaged"):
        RunJournal(lake, "k", "full-load", attempt="x").read()


def test_history_keeps_the_last_runs_and_reports_their_median(tmp_path: Path) -> None:
    lake = Lake.from_url(f"file://{tmp_path / 'lake'}")
    history = LakeHistory(lake)
    for seconds in (10, 1000, 12, 11, 13, 14, 9):
        history.append("sales", "full-load", HistoryEntry(seconds=seconds, rows=100, source_bytes=2000))
    history.append("hr", "cdc", HistoryEntry(seconds=3))
    stored = history.read("sales", "full-load")
    assert stored is not None and len(stored.runs) == KEPT_RUNS
    typical = history.typical(["sales", "hr", "unknown"], "full-load")
    assert set(typical) == {"sales"}  # hr has only a cdc history
    assert typical["sales"].seconds == 12 and typical["sales"].source_bytes == 2000  # the outlier 1000 aged out
    with lake.open_output(layout.history_key("hr", "full-load")) as out:
        out.write(b"[]")
    assert set(history.typical(["sales", "hr"], "full-load")) == {"sales"}  # a damaged history is ignored

"""Rerunning a run key: loaded databases are skipped, failed ones retried, running tasks re-attached."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from sqlfleet.catalog import render_catalog
from sqlfleet.engines.local_state import TaskStateStore
from sqlfleet.errors import WarehouseError
from sqlfleet.lake import Lake
from sqlfleet.report import FleetSummary
from sqlfleet.testing.instant import InstantEngine, InstantWarehouse
from sqlfleet.verify import VerifiedTable
from sqlfleet.warehouses.base import LoadedTable
from tests.fleet_support import ENGINES, WAREHOUSES, manifest_batches, probe_fleet, tiny_fleet
from tests.test_fleet_flow import make_small, warehouse_counts

pytestmark = pytest.mark.usefixtures("prefect_server")


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SQLFLEET_LAKE_URL", f"file://{tmp_path / 'lake'}")
    monkeypatch.setenv("SQLFLEET_WAREHOUSE_URL", f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    monkeypatch.setenv("SQLFLEET_ENABLED_VARIABLE", f"sqlfleet_enabled_{tmp_path.name.lower()[-20:]}")
    monkeypatch.setenv("SQLFLEET_POLL_INTERVAL_SECONDS", "0.05")
    return tmp_path


def write_catalog(folder: Path, gamma_tables: str, with_delta: bool = False) -> Path:
    entries: list[dict[str, object]] = [
        {"name": "alpha", "enabled": True, "source": "sqlite:///sources/alpha.db"},
        {"name": "beta", "enabled": True, "source": "sqlite:///sources/beta.db"},
        {
            "name": "gamma",
            "enabled": True,
            "source": "sqlite:///sources/gamma.db",
            "tables": {"include": [gamma_tables]},
        },
    ]
    if with_delta:
        entries.append({"name": "delta", "enabled": True, "source": "sqlite:///sources/beta.db"})
    catalog = folder / "catalog.yaml"
    catalog.write_text(render_catalog(entries))
    return catalog


def summary_of(state: object) -> dict[str, object]:
    summary = state.result(raise_on_failure=False)  # type: ignore[attr-defined]
    assert isinstance(summary, FleetSummary)
    return {o.database: o for o in summary.outcomes}


def test_a_rerun_of_the_key_skips_what_loaded_and_retries_only_what_failed(env: Path) -> None:
    from flows.fleet import fleet_run

    (env / "sources").mkdir()
    for name, rows in (("alpha", 20), ("beta", 10), ("gamma", 5)):
        make_small(env / "sources" / f"{name}.db", rows)
    catalog = write_catalog(env, "no_such_table%")  # gamma's task fails: its rules match nothing
    first = fleet_run(catalog_path=str(catalog), run_key="night-1", return_state=True)
    assert first.is_failed() and "1/3 databases failed: gamma" in (first.message or "")
    batches = manifest_batches(env / "warehouse.duckdb")
    assert set(batches) == {"alpha", "beta"}

    # gamma fixed, and a database added: --only-failed reruns gamma alone.
    catalog = write_catalog(env, "%", with_delta=True)
    retry = fleet_run(catalog_path=str(catalog), run_key="night-1", only_failed=True, return_state=True)
    assert retry.is_completed(), retry.message
    outcomes = summary_of(retry)
    assert set(outcomes) == {"alpha", "beta", "gamma"}  # delta never started under night-1
    assert outcomes["gamma"].note == ""  # type: ignore[attr-defined]
    assert "not run again" in outcomes["alpha"].note  # type: ignore[attr-defined]
    assert "2 of them loaded earlier under run key night-1" in (retry.message or "")
    after = manifest_batches(env / "warehouse.duckdb")
    assert after["alpha"] == batches["alpha"] and after["beta"] == batches["beta"]  # not loaded again
    assert warehouse_counts(env)["gamma.Customer"] == 5 and "delta" not in after

    store = TaskStateStore(Lake.from_url(f"file://{env / 'lake'}"))
    assert store.read("alpha-full").runs == 1  # type: ignore[union-attr]  # never replicated again
    assert store.read("gamma-full").runs == 2  # type: ignore[union-attr]

    # A plain rerun of the key picks up what never started under it, and nothing else.
    again = fleet_run(catalog_path=str(catalog), run_key="night-1", return_state=True)
    assert again.is_completed() and "3 of them loaded earlier" in (again.message or "")
    assert set(manifest_batches(env / "warehouse.duckdb")) == {"alpha", "beta", "gamma", "delta"}
    assert manifest_batches(env / "warehouse.duckdb")["gamma"] == after["gamma"]


class FlakyWarehouse(InstantWarehouse):
    """Fails every load of ``database`` until ``healed``."""

    def __init__(self, database: str) -> None:
        super().__init__()
        self.database = database
        self.healed = False

    def load_full(
        self, database: str, table: VerifiedTable, lake: Lake, batch_id: str, default_schema: str = "dbo"
    ) -> LoadedTable:
        if database == self.database and not self.healed:
            raise WarehouseError("the warehouse refused the load")
        return super().load_full(database, table, lake, batch_id, default_schema)


def test_a_failed_load_resumes_from_the_recorded_replication_without_replicating(env: Path) -> None:
    engine = InstantEngine(tables=2, instance="local")
    ENGINES["resume-load"] = engine
    warehouse = FlakyWarehouse("bravo")
    WAREHOUSES["resume-load"] = warehouse
    catalog = tiny_fleet(env / "fleet", ["alfa", "bravo"])
    first = probe_fleet(str(catalog), "resume-load", "resume-load", "resume-load", return_state=True)
    assert first.is_failed() and "bravo" in (first.message or "")
    assert engine.starts() == 2
    warehouse.healed = True
    second = probe_fleet(str(catalog), "resume-load", "resume-load", "resume-load", return_state=True)
    assert second.is_completed(), second.message
    assert engine.starts() == 2  # bravo's replication was reused, alfa was skipped
    assert summary_of(second)["bravo"].status == "succeeded"  # type: ignore[attr-defined]
    assert warehouse.row_count("bravo", "t000") is None  # empty tables: verified, nothing to load


class PausedClock:
    """A clock that stands still (a started task keeps running) until ``resume``."""

    def __init__(self) -> None:
        self.readings = 0
        self.moved = False

    def __call__(self) -> float:
        self.readings += 1
        return 1e9 if self.moved else 0.0


def test_a_task_still_running_is_re_attached_to_rather_than_started_again(env: Path) -> None:
    from prefect.artifacts import Artifact

    from sqlfleet.engines.base import TaskSpec

    clock = PausedClock()
    engine = InstantEngine(tables=1, duration_seconds=1.0, instance="local", clock=clock)
    ENGINES["re-attach"] = engine
    WAREHOUSES["re-attach"] = InstantWarehouse()
    catalog = tiny_fleet(env / "fleet", ["solo"])
    # An earlier run (another process) started solo's task and died while it ran.
    ref = engine.ensure_task(TaskSpec(database="solo", source_url=f"sqlite:///{env / 'fleet' / 'solo.db'}"))
    engine.start_task(ref, "start-replication")
    before = clock.readings

    def finish_once_watched() -> None:  # the task ends only after the run has looked at it a few times
        deadline = time.monotonic() + 120
        while clock.readings < before + 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        clock.moved = True

    threading.Thread(target=finish_once_watched, daemon=True).start()
    state = probe_fleet(str(catalog), "re-attach", "re-attach", "re-attach", return_state=True)
    assert state.is_completed(), state.message
    assert engine.starts() == 1  # waited for the running task instead of starting it again
    db = Artifact.get("sqlfleet-db-solo")
    assert db is not None and [r["engine_state"] for r in json.loads(db.data)] == ["Table completed"]  # type: ignore[arg-type]

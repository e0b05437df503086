"""A ``cdc`` run's load keeps a reconciliation ledger, like a full load, and a disagreement fails the table."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from prefect.logging import disable_run_logger

from sqlfleet.catalog_models import DatabaseEntry
from sqlfleet.cdc.delta import change_window, checkpoint_after, plan_window
from sqlfleet.cdc.enable import enable_for_entry
from sqlfleet.checkpoints import LakeCheckpointStore, latest_checkpoint
from sqlfleet.dms.status import choose_start_type
from sqlfleet.engines.local import LocalEngine
from sqlfleet.lake import Lake
from sqlfleet.plan import DatabasePlan, build_plan
from sqlfleet.report import LoadResult, ReplicationResult
from sqlfleet.runtime import Runtime
from sqlfleet.settings import Settings
from sqlfleet.verify import VerifyReport, verify_changes
from sqlfleet.warehouses.duckdb import DuckDBWarehouse
from tasks.load_changes import load_window
from tests.cdc_support import cycle, entry_for, utc_now, wait
from tests.cdc_support import execute_all as execute


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    path = tmp_path / "shop.db"
    execute(
        path,
        "CREATE TABLE customer (id int NOT NULL PRIMARY KEY, name nvarchar(50), credit decimal(9,2))",
        "INSERT INTO customer VALUES (1, 'Zoë', 10.5), (2, 'Ana', 20), (3, 'Kenji', NULL)",
        "CREATE TABLE note (body nvarchar(20))",  # no key: an append-only change table
        "INSERT INTO note VALUES ('first')",
        "CREATE TABLE untouched (id int PRIMARY KEY, v varchar(5))",
        "INSERT INTO untouched VALUES (1, 'a')",
    )
    return path


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    lake = Lake.from_url(f"file://{tmp_path / 'lake'}")
    settings = Settings(warehouse_concurrency=2, lake_url=lake.url)
    with Runtime(settings, lake, LocalEngine(lake), DuckDBWarehouse(tmp_path / "w.duckdb")) as rt:
        yield rt


def changes(runtime: Runtime, entry: DatabaseEntry) -> tuple[DatabasePlan, ReplicationResult, VerifyReport]:
    """Replicate and verify one ``cdc`` window from the database's checkpoint, as the flow does."""
    planned = build_plan([entry], "cdc", max_file_size_kb=1_048_576, timestamp_column="_dms_ts").databases[0]
    store = LakeCheckpointStore(runtime.lake)
    window = plan_window(planned, latest_checkpoint(store, entry.name), utc_now())
    engine = runtime.engine
    ref = engine.ensure_task(window.spec)
    engine.start_task(ref, choose_start_type(engine.describe_tasks([ref])[ref.identifier].status, "cdc"))
    status = wait(engine, ref)  # type: ignore[arg-type]
    stats = tuple(engine.table_statistics(ref))
    replication = ReplicationResult(
        database=entry.name, task=ref, start_type="start-replication", status=status, tables=stats, seconds=0.0
    )
    return window, replication, verify_changes(runtime.lake, entry.name, stats, change_window(status))


def delta_ready(shop: Path, runtime: Runtime) -> DatabaseEntry:
    """A full load with its start position, then a batch of changes in the source."""
    entry = entry_for("shop", shop)
    enable_for_entry(entry, utc_now())
    store = LakeCheckpointStore(runtime.lake)
    assert isinstance(runtime.warehouse, DuckDBWarehouse) and isinstance(runtime.engine, LocalEngine)
    cycle(runtime.engine, runtime.lake, runtime.warehouse, store, entry, "full-load-and-cdc")
    execute(
        shop,
        "UPDATE customer SET credit = 1 WHERE id = 1",
        "UPDATE customer SET credit = 2 WHERE id = 1",
        "INSERT INTO customer VALUES (4, 'Lee', 4)",
        "DELETE FROM customer WHERE id = 2",
        "INSERT INTO note VALUES ('second')",
    )
    return entry


def test_a_cdc_load_keeps_a_ledger_entry_per_table_in_the_warehouse(shop: Path, runtime: Runtime) -> None:
    entry = delta_ready(shop, runtime)
    window, replication, report = changes(runtime, entry)
    assert report.ok, report.problems

    with disable_run_logger():
        result = load_window.fn(report, window, runtime, "delta-1")

    assert {t.table: t.status for t in result.tables} == {
        "customer": "loaded",
        "note": "loaded",
        "untouched": "unchanged",
    }
    assert {e.table_name: (e.kind, e.status) for e in result.ledger} == {
        "customer": ("cdc", "ok"),
        "note": ("cdc", "ok"),
        "untouched": ("cdc", "ok"),
    }
    assert isinstance(runtime.warehouse, DuckDBWarehouse)
    stored = {r["table_name"]: r for r in runtime.warehouse.ledger_rows() if r["batch_id"] == "delta-1"}
    customer = stored["customer"]
    # engine: 2 updates + 1 insert + 1 delete captured; applied: the latest change per key
    assert (customer["engine_rows"], customer["footer_rows"]) == (4, 4)
    assert (customer["inserted"], customer["updated"], customer["deleted"]) == (1, 1, 1)
    assert (customer["previous_rows"], customer["warehouse_rows"], customer["status"]) == (3, 3, "ok")
    assert (stored["note"]["target"], stored["note"]["inserted"], stored["note"]["warehouse_rows"]) == (
        "note__changes",
        1,
        1,
    )
    assert (stored["untouched"]["engine_rows"], stored["untouched"]["warehouse_rows"]) == (0, 1)
    assert checkpoint_after(replication, result, "delta-1", utc_now()) is not None


def test_counts_that_disagree_fail_the_table_and_hold_the_checkpoint(shop: Path, runtime: Runtime) -> None:
    entry = delta_ready(shop, runtime)
    window, replication, report = changes(runtime, entry)
    # The engine's statistics say one change more than the CDC files hold (an engine that lost a
    # change it counted); verification is bypassed here, so the ledger is the check that catches it.
    tables = tuple(
        t.model_copy(update={"expected_rows": t.expected_rows + 1}) if t.table == "customer" else t
        for t in report.tables
    )
    report = report.model_copy(update={"tables": tables})

    with disable_run_logger():
        result = load_window.fn(report, window, runtime, "delta-1")

    failed = {t.table: t.error for t in result.tables if t.status == "failed"}
    assert list(failed) == ["customer"]
    assert "reconciliation: dbo.customer: the engine reported 5 changes, the CDC file footers hold 4" in (
        failed["customer"] or ""
    )
    assert isinstance(runtime.warehouse, DuckDBWarehouse)
    stored = {r["table_name"]: r["status"] for r in runtime.warehouse.ledger_rows() if r["batch_id"] == "delta-1"}
    assert stored == {"customer": "mismatch", "note": "ok", "untouched": "ok"}
    assert isinstance(result, LoadResult) and checkpoint_after(replication, result, "delta-1", utc_now()) is None

"""Engine round trip: every demo table and view, through the lake, equals its source in DuckDB."""

from __future__ import annotations

import time
from pathlib import Path

from sqlfleet.demo.check import compare_database
from sqlfleet.demo.generate import generate_database
from sqlfleet.engines.base import TaskSpec
from sqlfleet.engines.local import LocalEngine
from sqlfleet.lake import Lake
from sqlfleet.verify import verify_database
from sqlfleet.warehouses.duckdb import DuckDBWarehouse


def test_every_demo_table_round_trips_value_for_value(tmp_path: Path) -> None:
    generated = generate_database(tmp_path / "demo.db", seed=3, scale=0.05)
    lake = Lake.from_url(f"file://{tmp_path / 'lake'}")
    # Small batches and files exercise batch boundaries and file rollover on every table.
    engine = LocalEngine(lake, workers=2, batch_rows=700)
    ref = engine.ensure_task(TaskSpec(database="demo", source_url=f"sqlite:///{generated.path}", max_file_size_kb=64))
    engine.start_task(ref, "start-replication")
    deadline = time.monotonic() + 120
    while engine.describe_tasks([ref])[ref.identifier].status not in {"stopped", "failed"}:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    stats = engine.table_statistics(ref)
    assert len(stats) == len(generated.tables) + len(generated.views) == 43
    assert all(s.table_state == "Table completed" for s in stats), [s for s in stats if s.error]
    assert {s.table_name: s.full_load_rows for s in stats if s.table_name in generated.tables} == generated.tables
    assert len(lake.list("demo/dbo/Sales Order Line/")) > 1

    report = verify_database(lake, "demo", stats)
    assert report.ok and not report.problems, report.problems
    with DuckDBWarehouse(tmp_path / "w.duckdb") as warehouse:
        for table in report.loadable_tables:
            warehouse.load_full("demo", table, lake, batch_id="b1")
        results = compare_database(generated.path, warehouse, "demo")
    assert len(results) == 43
    assert [r for r in results if not r.equal] == []

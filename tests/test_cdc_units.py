"""Pure pieces of the delta: positions, stamps, checkpoints, window planning, catalog key, T-SQL."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp

from sqlfleet import layout
from sqlfleet.catalog import load_catalog
from sqlfleet.cdc.delta import NoCheckpointError, checkpoint_after, delta_outcome, plan_window
from sqlfleet.cdc.positions import (
    change_seq,
    format_lsn,
    lsn_hex,
    parse_lsn,
    parse_start_position,
    parse_stop_position,
    stop_position,
)
from sqlfleet.checkpoints import Checkpoint, LakeCheckpointStore, WarehouseCheckpointStore, latest_checkpoint
from sqlfleet.engines.base import TaskRef, TaskStatus
from sqlfleet.errors import CatalogError, LakeError
from sqlfleet.lake import Lake
from sqlfleet.plan import build_plan
from sqlfleet.report import DatabaseOutcome, LoadResult, ReplicationResult
from sqlfleet.sql import tsql_cdc
from sqlfleet.warehouses.base import LoadedTable
from sqlfleet.warehouses.duckdb import DuckDBWarehouse
from tests.cdc_support import entry_for

GOLDEN = Path(__file__).parent / "golden" / "tsql_cdc"
T0 = datetime(2024, 5, 1, 12, 0, 0)


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.read_text(encoding="utf-8") == text, f"golden {name} differs (UPDATE_GOLDEN=1 rewrites)"


# -- positions and stamps -------------------------------------------------------------------------


def test_lsn_forms_round_trip_and_sort_like_numbers() -> None:
    assert format_lsn(42) == "00000000:00000000:002A" and parse_lsn("00000000:00000000:002a") == 42
    assert lsn_hex(42) == "0x0000000000000000002A" and parse_lsn(lsn_hex(2**70)) == 2**70
    assert parse_lsn("00000014:00000061:0001") == 0x14000000610001  # the form DMS documents
    assert sorted([format_lsn(300), format_lsn(5), format_lsn(70000)]) == [format_lsn(n) for n in (5, 300, 70000)]
    for bad in ("", "42", "0014:0061:0001", "0x12"):
        with pytest.raises(ValueError):
            parse_lsn(bad)
    with pytest.raises(ValueError):
        format_lsn(-1)


def test_start_and_stop_positions() -> None:
    assert parse_start_position("00000000:00000000:0010") == 16
    assert parse_start_position("2018-03-08T12:12:12") == datetime(2018, 3, 8, 12, 12, 12)
    with pytest.raises(ValueError, match="only AWS DMS"):
        parse_start_position("checkpoint:V1#27#00000132/0D000000:...")
    assert stop_position(T0) == "server_time:2024-05-01T12:00:00"
    assert stop_position(T0 + timedelta(microseconds=1)) == "server_time:2024-05-01T12:00:01"  # rounded up
    assert stop_position(T0, "commit_time") == "commit_time:2024-05-01T12:00:00"
    assert parse_stop_position("commit_time:2024-05-01T12:00:00+02:00") == ("commit_time", datetime(2024, 5, 1, 10))
    with pytest.raises(ValueError):
        parse_stop_position("2024-05-01T12:00:00")


def test_change_seq_is_35_digits_that_sort_by_time_then_record() -> None:
    seq = change_seq(datetime(2024, 5, 1, 12, 0, 0, 123000), 7)
    assert len(seq) == 35 and seq.isdigit() and seq.endswith("7") and int(seq[16:]) == 7
    assert change_seq(T0, 2) < change_seq(T0, 10) < change_seq(T0 + timedelta(microseconds=1), 1)
    with pytest.raises(ValueError):
        change_seq(T0, 10**19)


def test_cdc_stamps_sort_in_time_and_windows_include_their_files() -> None:
    first, second = layout.cdc_stamp(T0), layout.cdc_stamp(T0, 1)
    later = layout.cdc_stamp(T0 + timedelta(microseconds=1))
    assert first < second < later and layout.parse_key(layout.cdc_file_key("d", "dbo", "t", later)) is not None
    assert layout.cdc_stamp_in_window(second, T0, T0)
    assert not layout.cdc_stamp_in_window(later, T0 - timedelta(seconds=1), T0)
    assert layout.cdc_stamp_in_window("20240501-1200000000", T0, T0 + timedelta(seconds=1))  # DMS precision
    assert not layout.cdc_stamp_in_window("20240501-1159590000", T0, T0 + timedelta(seconds=1))
    assert layout.checkpoint_key("sales_eu", "cdc") == "_sqlfleet/checkpoints/sales_eu/cdc.json"
    with pytest.raises(ValueError):
        layout.checkpoint_key("sales_eu", "delta")


# -- checkpoints ----------------------------------------------------------------------------------


def checkpoint(mode: str = "cdc", position: int = 5, at: datetime = T0) -> Checkpoint:
    return Checkpoint.model_validate(
        {
            "database": "sales",
            "mode": mode,
            "position": format_lsn(position),
            "task": "t",
            "batch_id": "b",
            "written_at": at,
        }
    )


def test_lake_store_round_trips_writes_atomically_and_reports_damage(tmp_path: Path) -> None:
    lake = Lake.from_url(f"file://{tmp_path / 'lake'}")
    store = LakeCheckpointStore(lake)
    assert store.read("sales", "cdc") is None
    store.write(checkpoint())
    store.write(checkpoint(position=9))
    assert store.read("sales", "cdc") == checkpoint(position=9)
    assert [o.key for o in lake.list("")] == ["_sqlfleet/checkpoints/sales/cdc.json"]  # no leftovers
    assert lake.list("sales/") == []  # outside the database prefix: verification never sees it
    Path(lake.path("_sqlfleet/checkpoints/sales/cdc.json")).write_text("{not json")
    with pytest.raises(LakeError, match="damaged"):
        store.read("sales", "cdc")


def test_warehouse_store_and_the_latest_checkpoint_over_modes(tmp_path: Path) -> None:
    with DuckDBWarehouse(tmp_path / "wh.duckdb") as wh:
        store = WarehouseCheckpointStore(wh)
        assert latest_checkpoint(store, "sales") is None
        store.write(checkpoint("full-load-and-cdc", 3, T0))
        assert latest_checkpoint(store, "sales") == checkpoint("full-load-and-cdc", 3, T0)
        store.write(checkpoint("cdc", 8, T0 + timedelta(hours=1)))
        store.write(checkpoint("cdc", 9, T0 + timedelta(hours=2)))  # replaces the row
        assert latest_checkpoint(store, "sales") == checkpoint("cdc", 9, T0 + timedelta(hours=2))
        store.write(checkpoint("full-load-and-cdc", 4, T0 + timedelta(hours=3)))  # a later full load wins
        assert latest_checkpoint(store, "sales").position == format_lsn(4)  # type: ignore[union-attr]
        assert WarehouseCheckpointStore(wh).read("sales", "cdc") == checkpoint("cdc", 9, T0 + timedelta(hours=2))


# -- planning a window and moving the checkpoint ----------------------------------------------


def plans(tmp_path: Path, mode: str, **options: object):  # type: ignore[no-untyped-def]
    source = tmp_path / "s.db"
    source.touch()
    entry = entry_for("sales", source, **options)
    return build_plan([entry], mode, max_file_size_kb=1024, timestamp_column="_dms_ts").databases[0]  # type: ignore[arg-type]


def test_cdc_without_checkpoint_fails_unless_the_catalog_asks_for_a_full_load(tmp_path: Path) -> None:
    plan = plans(tmp_path, "cdc")
    with pytest.raises(NoCheckpointError, match="run a full load first"):
        plan_window(plan, None, T0)
    auto = plan_window(plans(tmp_path, "cdc", cdc_without_checkpoint="full-load"), None, T0, ["dbo.v"])
    assert auto.spec.migration_type == "full-load-and-cdc" and auto.task_identifier == "sales-fullcdc"
    assert not auto.spec.include_views and auto.skipped_views == ("dbo.v",)
    window = plan_window(plan, checkpoint(), T0, ["dbo.v"])
    assert window.spec.cdc_start_position == format_lsn(5)
    assert window.spec.cdc_stop_position == "server_time:2024-05-01T12:00:00"
    assert window.skipped_views == ("dbo.v",) and window.task_identifier == "sales-cdc"
    assert plan_window(plans(tmp_path, "cdc", views=False), checkpoint(), T0, ["dbo.v"]).skipped_views == ()
    full = plans(tmp_path, "full-load")
    assert plan_window(full, None, T0, ["dbo.v"]) == full


def replication(mode: str, position: str | None) -> ReplicationResult:
    task = TaskRef(identifier=f"sales-{mode}", database="sales", migration_type=mode, arn="arn")  # type: ignore[arg-type]
    status = TaskStatus(identifier=task.identifier, arn="arn", status="stopped", recovery_checkpoint=position)
    return ReplicationResult(
        database="sales", task=task, start_type="start-replication", status=status, tables=(), seconds=0
    )


def loaded(status: str) -> LoadResult:
    table = LoadedTable(schema_name="dbo", table="t", target="t", rows=1, files=1, bytes=1, status=status, seconds=0)  # type: ignore[arg-type]
    return LoadResult(database="sales", batch_id="b", tables=(table,), seconds=0)


def test_the_checkpoint_moves_only_after_a_complete_load() -> None:
    written = checkpoint_after(replication("cdc", format_lsn(7)), loaded("loaded"), "b", T0)
    assert written is not None and written.position == format_lsn(7) and written.mode == "cdc"
    assert checkpoint_after(replication("cdc", format_lsn(7)), loaded("failed"), "b", T0) is None
    assert checkpoint_after(replication("full-load", None), loaded("loaded"), "b", T0) is None
    with pytest.raises(Exception, match="without a recovery checkpoint"):
        checkpoint_after(replication("cdc", None), loaded("loaded"), "b", T0)


def test_delta_outcome_reports_skipped_views_and_failures(tmp_path: Path) -> None:
    ok = DatabaseOutcome(database="sales", status="succeeded")
    window = plan_window(plans(tmp_path, "cdc"), checkpoint(), T0, ["dbo.v"])
    out = delta_outcome(ok, window, None)
    assert out.status == "succeeded" and [(r.table, r.warehouse) for r in out.detail] == [("dbo.v", "skipped")]
    failed = delta_outcome(ok, NoCheckpointError("sales: no CDC checkpoint yet"), None)
    assert failed.status == "failed" and failed.failure == "cdc: sales: no CDC checkpoint yet"
    assert delta_outcome(ok, window, LakeError("disk full")).failure == "checkpoint: disk full"


def test_catalog_key_cdc_without_checkpoint(tmp_path: Path) -> None:
    (tmp_path / "a.db").touch()
    path = tmp_path / "catalog.yaml"
    path.write_text(
        "defaults:\n  cdc_without_checkpoint: full-load\ndatabases:\n"
        "  - {name: a, enabled: true, source: 'sqlite:///a.db'}\n"
        "  - {name: b, enabled: true, source: 'sqlite:///a.db', cdc_without_checkpoint: fail}\n"
    )
    catalog = load_catalog(path, check_sources=False)
    assert [d.cdc_without_checkpoint for d in catalog.databases] == ["full-load", "fail"]
    path.write_text(
        "databases:\n  - {name: a, enabled: true, source: 'sqlite:///a.db', cdc_without_checkpoint: always}\n"
    )
    with pytest.raises(CatalogError, match="cdc_without_checkpoint"):
        load_catalog(path, check_sources=False)


# -- T-SQL for SQL Server sources ------------------------------------------------------------


def parse_tsql(script: str) -> list[exp.Expression]:
    statements = [s for s in sqlglot.parse(script, read="tsql") if s is not None]
    assert statements and not any(isinstance(s, exp.Command) for s in statements)
    return statements


def test_changes_query_golden_parses_and_reads_the_capture_instance_function() -> None:
    script = tsql_cdc.changes_sql("dbo_Sales Order", ["id", "Unit Price", 'say "hi"'], 42, T0)
    check_golden("changes.sql", script)
    statements = parse_tsql(script)
    functions = {f.name.lower() for s in statements for f in s.find_all(exp.Anonymous)}
    assert "fn_cdc_get_all_changes_dbo_sales order" in functions
    assert "sys.fn_cdc_increment_lsn(0x0000000000000000002A)" in script
    assert "'largest less than or equal', N'2024-05-01 12:00:00.000'" in script
    assert tsql_cdc.max_lsn_sql().startswith("SELECT CONVERT(VARCHAR(20), sys.fn_cdc_get_max_lsn(), 2)")
    parse_tsql(tsql_cdc.max_lsn_sql())
    with pytest.raises(ValueError):
        tsql_cdc.changes_sql("dbo_x", [], 0, T0)

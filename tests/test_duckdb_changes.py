"""The DuckDB half of applying CDC files: the staged DELETE + INSERT statements and what only DuckDB checks."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pytest

from sqlfleet.errors import WarehouseError
from sqlfleet.lake import Lake
from sqlfleet.sql import duckdb_changes as sql
from sqlfleet.warehouses.duckdb import DuckDBWarehouse
from tests.warehouse_contract.conftest import Clock
from tests.warehouse_contract.test_warehouse_scenarios import DB, change_file, load_file, verified, window

GOLDEN = Path(__file__).parent / "golden" / "duckdb_changes"
ODD_SCHEMA = 'Sales "EU" ü'
ODD_TABLE = "O'Brien Ünïcode table"
ODD_PATHS = ["/lake/db/it's/20261128-110000000.parquet", '/lake/db/"q" ü/20261128-110100000.parquet']
KEYS = ["id", 'line "no"']
COLUMNS = ["_dms_ts", "id", 'line "no"', "näme"]


def latest() -> str:
    return sql.latest_changes_sql(
        ODD_PATHS, key_columns=KEYS, columns=COLUMNS, op_column="Op", order_by=["_dms_change_seq", "_dms_ts"]
    )


GOLDEN_CASES: dict[str, Callable[[], str]] = {
    "latest_changes": latest,
    "stage_changes": lambda: sql.stage_changes_sql(ODD_SCHEMA, ODD_TABLE, latest(), key_columns=KEYS),
    "stage_changes_absent": lambda: sql.stage_changes_sql(
        ODD_SCHEMA, ODD_TABLE, latest(), key_columns=KEYS, absent=[("nöte", "VARCHAR"), ("x", "DECIMAL(9,2)")]
    ),
    "stage_absent_columns": lambda: sql.stage_absent_columns_sql(
        ODD_SCHEMA, ODD_TABLE, key_columns=KEYS, absent=["nöte", "x"]
    ),
    "staged_counts": lambda: sql.staged_counts_sql("Op"),
    "delete_matched": lambda: sql.delete_matched_sql(ODD_SCHEMA, ODD_TABLE, key_columns=KEYS),
    "insert_after_images": lambda: sql.insert_after_images_sql(ODD_SCHEMA, ODD_TABLE, columns=COLUMNS, op_column="Op"),
    "drop_stage": sql.drop_stage_sql,
    "create_empty_from_parquet": lambda: sql.create_empty_from_parquet_sql(ODD_SCHEMA, ODD_TABLE, ODD_PATHS, COLUMNS),
    "append_changes": lambda: sql.append_changes_sql(ODD_SCHEMA, ODD_TABLE, ODD_PATHS, ["Op", *COLUMNS]),
}


@pytest.mark.parametrize("name", sorted(GOLDEN_CASES))
def test_sql_golden(name: str) -> None:
    text = GOLDEN_CASES[name]()
    path = GOLDEN / f"{name}.sql"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n", encoding="utf-8")
    assert path.read_text(encoding="utf-8") == text + "\n", f"golden {path.name} differs"
    # DuckDB's own parser accepts every statement (nothing is executed).
    assert len(duckdb.extract_statements(text)) == 1


def test_builders_reject_empty_inputs() -> None:
    with pytest.raises(ValueError, match="key columns"):
        sql.delete_matched_sql("s", "t", key_columns=[])
    with pytest.raises(ValueError, match="key columns"):
        sql.latest_changes_sql(ODD_PATHS, key_columns=[], columns=COLUMNS, op_column="Op", order_by=[])
    with pytest.raises(ValueError, match="absent column"):
        sql.stage_absent_columns_sql("s", "t", key_columns=KEYS, absent=[])
    with pytest.raises(ValueError, match="at least one file"):
        sql.change_rows_sql([])


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    return Lake.from_url(f"file://{tmp_path / 'lake'}")


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[DuckDBWarehouse]:
    with DuckDBWarehouse(tmp_path / "w.duckdb", clock=Clock()) as wh:
        yield wh


def temp_tables(wh: DuckDBWarehouse) -> list[tuple[object, ...]]:
    return wh.query("SELECT table_name FROM duckdb_tables() WHERE temporary")


def test_a_key_held_by_two_target_rows_fails_the_window_and_applies_nothing(
    lake: Lake, warehouse: DuckDBWarehouse
) -> None:
    load_file(lake, 1, [1, 2, 3])
    warehouse.load_full(DB, verified(lake, 3), lake, "b1")
    warehouse.query(f'INSERT INTO "{DB}"."orders" (id, name) VALUES (1, \'twin\')')
    before = warehouse.query(f'SELECT id, name FROM "{DB}"."orders" ORDER BY id, name')
    key = change_file(lake, "20261128-110000000", [("U", 1, "one", 1), ("I", 4, "four", 2)])

    # The DELETE already ran when the count gives the duplicate away: the rollback undoes it.
    with pytest.raises(WarehouseError, match=r"1 changed keys are in the table but 2 rows hold them"):
        warehouse.merge_changes(DB, window(lake, [key]), lake, "c1", ["id"])

    assert warehouse.query(f'SELECT id, name FROM "{DB}"."orders" ORDER BY id, name') == before
    assert [m for m in warehouse.manifest_rows(DB) if m["kind"] == "cdc"] == []
    assert temp_tables(warehouse) == []


def test_the_staging_table_is_gone_after_a_window_and_reads_each_file_once(
    lake: Lake, warehouse: DuckDBWarehouse
) -> None:
    load_file(lake, 1, [1, 2])
    warehouse.load_full(DB, verified(lake, 2), lake, "b1")
    a = change_file(lake, "20261128-110000000", [("U", 1, "x", 1), ("D", 2, None, 2)])
    b = change_file(lake, "20261128-110100000", [("U", 1, "y", 3), ("I", 2, "back", 4)])

    result = warehouse.merge_changes(DB, window(lake, [a, b]), lake, "c1", ["id"])

    # key 2: deleted then inserted again in one window is an update of the row the target holds
    assert (result.inserted, result.updated, result.deleted, result.rows) == (0, 2, 0, 2)
    assert warehouse.query(f'SELECT id, name FROM "{DB}"."orders" ORDER BY id') == [(1, "y"), (2, "back")]
    assert temp_tables(warehouse) == []

"""The DuckDB warehouse against real Parquet files in a folder lake and a real DuckDB file."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sqlfleet import layout
from sqlfleet.engines.base import TableStatistics
from sqlfleet.errors import TransientError, VerificationError, WarehouseError
from sqlfleet.lake import Lake
from sqlfleet.sql import duckdb as sql
from sqlfleet.sql.identifiers import qualified_name
from sqlfleet.verify import VerifiedTable, verify_database
from sqlfleet.warehouses.base import Warehouse, target_table_name
from sqlfleet.warehouses.duckdb import DuckDBWarehouse

HOLD_LOCK = "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('ready', flush=True); sys.stdin.read()"
GOLDEN = Path(__file__).parent / "golden" / "duckdb"
DB = "sales"
T0 = datetime(2026, 11, 28, 10, 0, 0)


def check_golden(name: str, text: str) -> None:
    """Compare ``text`` with ``golden/duckdb/<name>.sql``; ``UPDATE_GOLDEN=1`` rewrites it."""
    path = GOLDEN / f"{name}.sql"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n", encoding="utf-8")
    assert path.read_text(encoding="utf-8") == text + "\n", f"golden {path.name} differs"


ODD_SCHEMA = 'Sales "EU" ü'
ODD_TABLE = "O'Brien Ünïcode table"
ODD_PATHS = ["/lake/db/it's/LOAD00000001.parquet", '/lake/db/"q" ü/LOAD00000002.parquet']

GOLDEN_CASES: dict[str, Callable[[], str]] = {
    "create_schema": lambda: sql.create_schema_sql(ODD_SCHEMA),
    "create_manifest": lambda: ";\n".join(sql.create_manifest_sql()),
    "table_exists": lambda: sql.table_exists_sql(ODD_SCHEMA, ODD_TABLE),
    "parquet_columns": lambda: sql.parquet_columns_sql(ODD_PATHS),
    "replace_table_from_parquet": lambda: sql.replace_table_from_parquet_sql(ODD_SCHEMA, ODD_TABLE, ODD_PATHS),
    "replace_table_from_parquet_no_exclude": lambda: sql.replace_table_from_parquet_sql(
        ODD_SCHEMA, ODD_TABLE, ODD_PATHS[:1], exclude=()
    ),
    "file_rows": lambda: sql.file_rows_sql(ODD_PATHS),
    "count_rows": lambda: sql.count_rows_sql(ODD_SCHEMA, ODD_TABLE),
    "delete_rows": lambda: sql.delete_rows_sql(ODD_SCHEMA, ODD_TABLE),
    "select_columns": lambda: sql.select_columns_sql(ODD_SCHEMA, ODD_TABLE, ["id", 'say "hi"', "ünï"]),
    "table_columns": lambda: sql.table_columns_sql(ODD_SCHEMA, ODD_TABLE),
    "all_tables": sql.all_tables_sql,
    "latest_load_manifests": sql.latest_load_manifests_sql,
    "delete_manifest": lambda: sql.delete_manifest_sql(ODD_SCHEMA, ODD_TABLE),
    "insert_manifest": sql.insert_manifest_sql,
    "manifest_rows": lambda: sql.manifest_rows_sql(ODD_SCHEMA),
}


@pytest.mark.parametrize("name", sorted(GOLDEN_CASES))
def test_sql_golden(name: str) -> None:
    check_golden(name, GOLDEN_CASES[name]())


def test_builders_reject_empty_inputs() -> None:
    with pytest.raises(ValueError):
        sql.replace_table_from_parquet_sql("s", "t", [])
    with pytest.raises(ValueError):
        sql.select_columns_sql("s", "t", [])


def test_target_table_name() -> None:
    assert target_table_name("dbo", "Orders") == "Orders"
    assert target_table_name("sales", "Orders") == "sales_Orders"
    assert target_table_name("DBO", "Orders") == "DBO_Orders"
    assert target_table_name("app", "Orders", default_schema="app") == "Orders"


# -- fixtures and helpers -------------------------------------------------------------------


class Clock:
    """A deterministic clock: each call is one second after the previous one."""

    def __init__(self) -> None:
        self._ticks = itertools.count()

    def __call__(self) -> datetime:
        return T0 + timedelta(seconds=next(self._ticks))


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    return Lake.from_url(f"file://{tmp_path / 'lake'}")


@pytest.fixture
def wh_path(tmp_path: Path) -> Path:
    return tmp_path / "wh" / "warehouse.duckdb"


@pytest.fixture
def warehouse(wh_path: Path) -> Iterator[DuckDBWarehouse]:
    with DuckDBWarehouse(wh_path, clock=Clock()) as wh:
        yield wh


def rows_table(ids: list[int], names: list[str | None] | None = None) -> pa.Table:
    names = names if names is not None else [f"name {i}" for i in ids]
    return pa.table(
        {
            "Op": pa.array(["I"] * len(ids), pa.string()),
            "_dms_ts": pa.array(["2026-11-28 10:00:00.000000"] * len(ids), pa.string()),
            "id": pa.array(ids, pa.int64()),
            "name": pa.array(names, pa.string()),
        }
    )


def write(lake: Lake, schema: str, table: str, counter: int, data: pa.Table) -> str:
    key = layout.load_file_key(DB, schema, table, counter)
    with lake.open_output(key) as out:
        pq.write_table(data, out)
    return key


def verified(lake: Lake, schema: str, table: str, rows: int) -> VerifiedTable:
    """Verify one table the way the flow does, and return it (it must be loadable)."""
    stats = [TableStatistics(schema_name=schema, table_name=table, table_state="Table completed", full_load_rows=rows)]
    report = verify_database(lake, DB, stats)
    assert report.ok, report.problems
    return report.tables[0]


def contents(wh: DuckDBWarehouse, database: str, target: str) -> list[tuple[object, ...]]:
    return sorted(wh.query(sql.select_columns_sql(database, target, ["id", "name"])))


def load_orders(lake: Lake, wh: DuckDBWarehouse, batch: str) -> VerifiedTable:
    write(lake, "dbo", "orders", 1, rows_table([1, 2]))
    write(lake, "dbo", "orders", 2, rows_table([3]))
    table = verified(lake, "dbo", "orders", 3)
    result = wh.load_full(DB, table, lake, batch)
    assert result.status == "loaded"
    return table


# -- loads ----------------------------------------------------------------------------------


def test_first_load_contents_and_manifest(lake: Lake, warehouse: DuckDBWarehouse) -> None:
    write(lake, "dbo", "orders", 1, rows_table([1, 2], ["a", None]))
    write(lake, "dbo", "orders", 2, rows_table([3], ["ü"]))
    table = verified(lake, "dbo", "orders", 3)

    result = warehouse.load_full(DB, table, lake, "batch-1")

    assert isinstance(warehouse, Warehouse)
    assert (result.target, result.rows, result.files, result.bytes, result.status) == (
        "orders",
        3,
        2,
        table.bytes,
        "loaded",
    )
    assert result.error is None and result.seconds >= 0
    columns = [r[0] for r in warehouse.query(sql.table_columns_sql(DB, "orders"))]
    assert columns == ["_dms_ts", "id", "name"]
    assert contents(warehouse, DB, "orders") == [(1, "a"), (2, None), (3, "ü")]
    assert warehouse.row_count(DB, "orders") == 3
    manifest = warehouse.manifest_rows(DB)
    assert [(m["file_key"], m["size"], m["rows"], m["status"], m["batch_id"]) for m in manifest] == [
        (table.files[0].key, table.files[0].size, 2, "loaded", "batch-1"),
        (table.files[1].key, table.files[1].size, 1, "loaded", "batch-1"),
    ]
    assert {(m["database"], m["schema_name"], m["table_name"], m["target"]) for m in manifest} == {
        (DB, "dbo", "orders", "orders")
    }
    assert all(m["loaded_at"] >= T0 for m in manifest)


def test_rerun_of_same_files_is_unchanged_and_rewrites_nothing(lake: Lake, wh_path: Path) -> None:
    with DuckDBWarehouse(wh_path, clock=Clock()) as wh:
        table = load_orders(lake, wh, "batch-1")
        manifest_before = wh.manifest_rows(DB)
    # A sentinel row that a rewrite of the table would remove.
    with duckdb.connect(str(wh_path)) as con:
        con.execute(f"INSERT INTO {DB}.orders (id, name) VALUES (99, 'sentinel')")

    with DuckDBWarehouse(wh_path, clock=Clock()) as wh:
        again = wh.load_full(DB, table, lake, "batch-2")
        assert (again.status, again.rows, again.files) == ("unchanged", 4, 2)
        assert (99, "sentinel") in contents(wh, DB, "orders")
        assert wh.manifest_rows(DB) == manifest_before


def test_reload_with_different_files_replaces(lake: Lake, warehouse: DuckDBWarehouse) -> None:
    load_orders(lake, warehouse, "batch-1")
    lake.delete_prefix(layout.table_prefix(DB, "dbo", "orders"))
    write(lake, "dbo", "orders", 1, rows_table([10, 11, 12, 13]))
    table = verified(lake, "dbo", "orders", 4)

    result = warehouse.load_full(DB, table, lake, "batch-2")

    assert (result.status, result.rows, result.files) == ("loaded", 4, 1)
    assert [r[0] for r in contents(warehouse, DB, "orders")] == [10, 11, 12, 13]
    manifest = warehouse.manifest_rows(DB)
    assert [(m["file_key"], m["rows"], m["batch_id"]) for m in manifest] == [(table.files[0].key, 4, "batch-2")]


@pytest.mark.parametrize("failure", ["corrupt_file", "footer_rows_mismatch"])
def test_failed_reload_keeps_previous_table_and_manifest(lake: Lake, warehouse: DuckDBWarehouse, failure: str) -> None:
    load_orders(lake, warehouse, "batch-1")
    before_rows = contents(warehouse, DB, "orders")
    before_manifest = warehouse.manifest_rows(DB)
    write(lake, "dbo", "orders", 3, rows_table([4, 5]))
    table = verified(lake, "dbo", "orders", 5)
    error: type[Exception]
    if failure == "corrupt_file":
        # The files change after verification: one of three becomes garbage.
        with lake.open_output(table.files[1].key) as out:
            out.write(b"definitely not parquet")
        error = WarehouseError
    else:
        table = table.model_copy(update={"footer_rows": 6})
        error = VerificationError

    with pytest.raises(error) as info:
        warehouse.load_full(DB, table, lake, "batch-2")

    assert "orders" in str(info.value)
    assert contents(warehouse, DB, "orders") == before_rows
    assert warehouse.manifest_rows(DB) == before_manifest
    # The connection is usable after the rollback.
    assert warehouse.row_count(DB, "orders") == 3


def test_empty_source_empties_existing_table_or_skips(lake: Lake, warehouse: DuckDBWarehouse) -> None:
    load_orders(lake, warehouse, "batch-1")
    lake.delete_prefix(layout.table_prefix(DB, "dbo", "orders"))
    empty_orders = verified(lake, "dbo", "orders", 0)
    assert empty_orders.files == ()

    emptied = warehouse.load_full(DB, empty_orders, lake, "batch-2")
    assert (emptied.status, emptied.rows, emptied.files) == ("emptied", 0, 0)
    assert warehouse.row_count(DB, "orders") == 0
    assert [(m["file_key"], m["status"]) for m in warehouse.manifest_rows(DB)] == [(None, "emptied")]
    again = warehouse.load_full(DB, empty_orders, lake, "batch-3")
    assert again.status == "unchanged"
    assert [m["batch_id"] for m in warehouse.manifest_rows(DB)] == ["batch-2"]

    never = warehouse.load_full(DB, verified(lake, "dbo", "never", 0), lake, "batch-2")
    assert (never.status, never.target) == ("skipped_empty", "never")
    assert warehouse.row_count(DB, "never") is None


def test_odd_identifiers(lake: Lake, tmp_path: Path) -> None:
    schema, table_name = "my schema", 'O\'Brien "Ünïcode" table'
    database = 'Sales "EU" ü'
    write(lake, schema, table_name, 1, rows_table([1]))
    write(lake, schema, table_name, 2, rows_table([2]))
    table = verified(lake, schema, table_name, 2)
    with DuckDBWarehouse(tmp_path / "odd dir ü" / "w h.duckdb") as wh:
        result = wh.load_full(database, table, lake, "b'1")
        target = 'my schema_O\'Brien "Ünïcode" table'
        assert (result.target, result.status, result.rows) == (target, "loaded", 2)
        assert wh.row_count(database, target) == 2
        assert contents(wh, database, target) == [(1, "name 1"), (2, "name 2")]
        assert [m["batch_id"] for m in wh.manifest_rows(database)] == ["b'1", "b'1"]
        assert wh.load_full(database, table, lake, "b'2").status == "unchanged"


def test_types_survive_with_duckdb_types(lake: Lake, warehouse: DuckDBWarehouse) -> None:
    values = {
        "amount": pa.array([Decimal("12345678901234567890123456.0123456789"), None], pa.decimal128(38, 10)),
        "at": pa.array([datetime(2024, 2, 29, 23, 59, 59, 999999), None], pa.timestamp("us")),
        "flag": pa.array([True, False], pa.bool_()),
        "blob": pa.array([b"\x00\xff\x10", None], pa.binary()),
        "text": pa.array(["日本語 ü 😀", 'it\'s "quoted"'], pa.string()),
    }
    data = pa.table({"Op": pa.array(["I", "I"]), "_dms_ts": pa.array(["t", "t"]), **values})
    write(lake, "dbo", "types", 1, data)
    warehouse.load_full(DB, verified(lake, "dbo", "types", 2), lake, "b1")

    described = {r[0]: r[1] for r in warehouse.query(f"DESCRIBE {qualified_name(DB, 'types')}")}
    assert described == {
        "_dms_ts": "VARCHAR",
        "amount": "DECIMAL(38,10)",
        "at": "TIMESTAMP",
        "flag": "BOOLEAN",
        "blob": "BLOB",
        "text": "VARCHAR",
    }
    got = warehouse.query(sql.select_columns_sql(DB, "types", list(values)))
    assert sorted(got, key=repr) == sorted(
        [
            (
                Decimal("12345678901234567890123456.0123456789"),
                datetime(2024, 2, 29, 23, 59, 59, 999999),
                True,
                b"\x00\xff\x10",
                "日本語 ü 😀",
            ),
            (None, None, False, None, 'it\'s "quoted"'),
        ],
        key=repr,
    )


def test_concurrent_loads_of_different_tables(lake: Lake, warehouse: DuckDBWarehouse) -> None:
    tables = []
    for n in range(6):
        write(lake, "dbo", f"t{n}", 1, rows_table(list(range(n + 1))))
        tables.append(verified(lake, "dbo", f"t{n}", n + 1))
    results: dict[str, str] = {}

    def load(t: VerifiedTable) -> None:
        results[t.table] = warehouse.load_full(DB, t, lake, "b1").status

    threads = [threading.Thread(target=load, args=(t,)) for t in tables]
    for th in threads:
        th.start()
    for th in threads:
        th.join()

    assert results == {f"t{n}": "loaded" for n in range(6)}
    assert [warehouse.row_count(DB, f"t{n}") for n in range(6)] == [1, 2, 3, 4, 5, 6]
    assert len(warehouse.manifest_rows(DB)) == 6


def test_file_locked_by_another_process_is_transient(wh_path: Path) -> None:
    DuckDBWarehouse(wh_path).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            HOLD_LOCK,
            str(wh_path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        with pytest.raises(TransientError) as info:
            DuckDBWarehouse(wh_path)
        assert str(wh_path) in str(info.value)
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)


def test_what_the_warehouse_remembers_follows_sql_run_through_it(lake: Lake, warehouse: DuckDBWarehouse) -> None:
    table = load_orders(lake, warehouse, "batch-1")
    assert warehouse.load_full(DB, table, lake, "batch-2").status == "unchanged"
    warehouse.query(f"DROP TABLE {qualified_name(DB, 'orders')}")

    again = warehouse.load_full(DB, table, lake, "batch-3")

    assert (again.status, again.rows) == ("loaded", 3)
    assert [m["batch_id"] for m in warehouse.manifest_rows(DB)] == ["batch-3", "batch-3"]

"""The demo's row-by-row check: SQLite source vs DuckDB warehouse.

The test plays the replication engine: it writes by hand the Parquet files DMS would write for
the SQLite rows, loads them with the real warehouse, and expects the check to find them equal.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sqlfleet import layout
from sqlfleet.demo.check import (
    TableComparison,
    compare_database,
    format_comparison,
    to_datetime,
    to_decimal,
    to_time,
)
from sqlfleet.engines.base import TableStatistics
from sqlfleet.lake import Lake
from sqlfleet.sql.identifiers import qualified_name
from sqlfleet.verify import verify_database
from sqlfleet.warehouses.duckdb import DuckDBWarehouse

DB = "shop ü"
ITEMS = "Order Items ü"
VIEW = "v_totals"
EMPTY = "archive"

ITEMS_DDL = f"""
CREATE TABLE "{ITEMS}" (
  id INTEGER PRIMARY KEY, price decimal(10,2), precise decimal(38,10), at datetime2, d date,
  t time, flag bit, payload varbinary, label nvarchar(50), ratio float, r real
)"""
BIG = "12345678901234567890.0123456789"  # too many digits for REAL: SQLite keeps the text
SOURCE_ROWS: list[tuple[Any, ...]] = [
    (1, 19.99, BIG, "2024-01-02 03:04:05.1234567", "2024-01-02", "12:34:56.1234567", 1, b"\x00\xff",
     "Grüße 日本 'q' \"dq\"", 0.1, 0.1),
    (2, 5, 0.5, "1753-01-01 00:00:00.000", "0001-01-01", "00:00:00", 0, b"", "", -1.5, 3.4028234663852886e38),
    (3, "2.345", "-0.00000000005", "9999-12-31 23:59:59.9999999", None, None, None, None,
     "Grüße 日本 'q' \"dq\"", None, None),
    (4, None, None, None, None, None, None, None, None, None, None),
    (5, None, None, None, None, None, None, None, None, None, None),
]  # fmt: skip

ITEM_TYPES = {
    "id": pa.int64(),
    "price": pa.decimal128(10, 2),
    "precise": pa.decimal128(38, 10),
    "at": pa.timestamp("us"),
    "d": pa.date32(),
    "t": pa.time64("us"),
    "flag": pa.bool_(),
    "payload": pa.binary(),
    "label": pa.string(),
    "ratio": pa.float64(),
    "r": pa.float32(),
}
# What DMS writes for SOURCE_ROWS, worked out by hand.
EXPECTED_ITEMS: list[tuple[Any, ...]] = [
    (1, Decimal("19.99"), Decimal(BIG), datetime(2024, 1, 2, 3, 4, 5, 123456), date(2024, 1, 2),
     time(12, 34, 56, 123456), True, b"\x00\xff", "Grüße 日本 'q' \"dq\"", 0.1, 0.1),
    (2, Decimal("5.00"), Decimal("0.5"), datetime(1753, 1, 1), date(1, 1, 1), time(0, 0), False, b"", "",
     -1.5, 3.4028234663852886e38),
    (3, Decimal("2.34"), Decimal("0E-10"), datetime(9999, 12, 31, 23, 59, 59, 999999), None, None, None, None,
     "Grüße 日本 'q' \"dq\"", None, None),
    (4, None, None, None, None, None, None, None, None, None, None),
    (5, None, None, None, None, None, None, None, None, None, None),
]  # fmt: skip
VIEW_TYPES = {"label": pa.string(), "n": pa.int64(), "total": pa.float64()}
EXPECTED_VIEW: list[tuple[Any, ...]] = [
    (None, 2, 0.0),  # total() of only NULLs is 0.0, unlike sum()
    ("", 1, 5.0),
    ("Grüße 日本 'q' \"dq\"", 2, 19.99 + 2.345),
]


def build_source(path: Path) -> None:
    # NUMERIC affinity turns numeric text into (lossy) REAL on insert, so a decimal stays TEXT only
    # when the column's declared type changed after the rows were written: do exactly that.
    with sqlite3.connect(path) as con:
        con.execute(ITEMS_DDL.replace("precise decimal(38,10)", "precise nvarchar(60)"))
        con.executemany(f'INSERT INTO "{ITEMS}" VALUES ({", ".join("?" * 11)})', SOURCE_ROWS)
        con.execute("PRAGMA writable_schema = ON")
        con.execute(
            "UPDATE sqlite_master SET sql = replace(sql, 'precise nvarchar(60)', 'precise decimal(38,10)') "
            "WHERE name = ?",
            (ITEMS,),
        )
    con.close()
    with sqlite3.connect(path) as con:
        con.execute(
            f'CREATE VIEW {VIEW} AS SELECT label, count(*) AS n, total(price) AS total FROM "{ITEMS}" GROUP BY label'
        )
        con.execute(f"CREATE TABLE {EMPTY} (id INTEGER, note text)")
    con.close()


def dms_file(types: dict[str, pa.DataType], rows: list[tuple[Any, ...]]) -> pa.Table:
    columns = list(zip(*rows, strict=True))
    arrays = {
        "Op": pa.array(["I"] * len(rows)),
        "_dms_ts": pa.array(["2026-11-28 10:00:00.000000"] * len(rows)),
    }
    for (name, arrow_type), values in zip(types.items(), columns, strict=True):
        arrays[name] = pa.array(list(values), arrow_type)
    return pa.table(arrays)


@pytest.fixture
def loaded(tmp_path: Path) -> Iterator[tuple[Path, DuckDBWarehouse]]:
    source = tmp_path / "source.sqlite"
    build_source(source)
    lake = Lake.from_url(f"file://{tmp_path / 'lake'}")
    # Items split over two files, as DMS does for big tables.
    for counter, chunk in ((1, EXPECTED_ITEMS[:2]), (2, EXPECTED_ITEMS[2:])):
        with lake.open_output(layout.load_file_key(DB, "dbo", ITEMS, counter)) as out:
            pq.write_table(dms_file(ITEM_TYPES, chunk), out)
    with lake.open_output(layout.load_file_key(DB, "dbo", VIEW, 1)) as out:
        pq.write_table(dms_file(VIEW_TYPES, EXPECTED_VIEW), out)
    stats = [
        TableStatistics(schema_name="dbo", table_name=name, table_state="Table completed", full_load_rows=rows)
        for name, rows in ((ITEMS, 5), (VIEW, 3), (EMPTY, 0))
    ]
    report = verify_database(lake, DB, stats)
    assert report.ok, report.problems
    warehouse = DuckDBWarehouse(tmp_path / "warehouse.duckdb")
    statuses = {t.table: warehouse.load_full(DB, t, lake, "b1").status for t in report.loadable_tables}
    assert statuses == {ITEMS: "loaded", VIEW: "loaded", EMPTY: "skipped_empty"}
    yield source, warehouse
    warehouse.close()


def by_table(results: list[TableComparison]) -> dict[str, TableComparison]:
    return {r.table: r for r in results}


def test_source_really_stores_decimals_as_real_integer_and_text(tmp_path: Path) -> None:
    build_source(tmp_path / "s.sqlite")
    with sqlite3.connect(tmp_path / "s.sqlite") as con:
        price = {r[0] for r in con.execute(f'SELECT typeof(price) FROM "{ITEMS}"')}
        precise = {r[0] for r in con.execute(f'SELECT typeof(precise) FROM "{ITEMS}"')}
        declared = {r[1]: r[2] for r in con.execute(f'PRAGMA table_info("{ITEMS}")')}
    con.close()
    assert {"real", "integer"} <= price
    assert "text" in precise
    assert declared["precise"] == "decimal(38,10)"


def test_every_table_and_view_equals_its_source(loaded: tuple[Path, DuckDBWarehouse]) -> None:
    source, warehouse = loaded
    results = by_table(compare_database(source, warehouse, DB))

    assert set(results) == {f"dbo.{ITEMS}", f"dbo.{VIEW}", f"dbo.{EMPTY}"}
    assert all(r.equal for r in results.values()), format_comparison(list(results.values()))
    assert (results[f"dbo.{ITEMS}"].source_rows, results[f"dbo.{ITEMS}"].warehouse_rows) == (5, 5)
    empty = results[f"dbo.{EMPTY}"]
    assert (empty.source_rows, empty.warehouse_rows, empty.detail) == (
        0,
        None,
        "empty at source; DMS writes no files",
    )
    assert f"dbo.{VIEW}" not in by_table(compare_database(source, warehouse, DB, include_views=False))


def test_a_changed_warehouse_value_is_reported(loaded: tuple[Path, DuckDBWarehouse], tmp_path: Path) -> None:
    source, warehouse = loaded
    table = qualified_name(DB, ITEMS)
    warehouse.query(f"UPDATE {table} SET precise = precise + 0.0000000001 WHERE id = 1")
    warehouse.close()

    # Opened from its path this time (read-only).
    results = by_table(compare_database(source, tmp_path / "warehouse.duckdb", DB))

    items = results[f"dbo.{ITEMS}"]
    assert not items.equal
    assert (items.source_rows, items.warehouse_rows) == (5, 5)
    assert (
        "columns ['precise']: precise: source Decimal('12345678901234567890.0123456789') "
        "vs warehouse Decimal('12345678901234567890.0123456790')"
    ) in items.detail
    assert results[f"dbo.{VIEW}"].equal
    text = format_comparison(list(results.values()))
    assert "NO" in text and "2/3 tables equal" in text


def test_missing_and_extra_rows_are_reported(loaded: tuple[Path, DuckDBWarehouse]) -> None:
    source, warehouse = loaded
    table = qualified_name(DB, ITEMS)
    warehouse.query(f"DELETE FROM {table} WHERE id = 5")
    only_missing = by_table(compare_database(source, warehouse, DB))[f"dbo.{ITEMS}"]
    assert not only_missing.equal and "first missing row: (5, None" in only_missing.detail

    warehouse.query(f"INSERT INTO {table} (id) VALUES (5), (6)")
    extra = by_table(compare_database(source, warehouse, DB))[f"dbo.{ITEMS}"]
    assert not extra.equal and "first extra row: (6, None" in extra.detail


def test_missing_warehouse_table_is_not_equal(tmp_path: Path) -> None:
    build_source(tmp_path / "s.sqlite")
    with DuckDBWarehouse(tmp_path / "w.duckdb") as warehouse:
        results = by_table(compare_database(tmp_path / "s.sqlite", warehouse, DB))
    items = results[f"dbo.{ITEMS}"]
    assert (items.equal, items.warehouse_rows) == (False, None)
    assert "no table" in items.detail
    assert results[f"dbo.{EMPTY}"].equal


def test_conversions() -> None:
    assert to_datetime("2024-01-02 03:04:05.9999999") == datetime(2024, 1, 2, 3, 4, 5, 999999)
    assert to_datetime("2024-01-02T03:04:05") == datetime(2024, 1, 2, 3, 4, 5)
    assert to_time("23:59:59.1") == time(23, 59, 59, 100000)
    assert to_decimal("0.125", 2) == Decimal("0.12")
    assert to_decimal("0.135", 2) == Decimal("0.14")
    assert str(to_decimal(10**27, 10)) == "1000000000000000000000000000.0000000000"

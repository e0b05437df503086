"""Verification against real Parquet files in a folder lake."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sqlfleet import layout
from sqlfleet.engines.base import TableState, TableStatistics
from sqlfleet.lake import Lake, LakeObject
from sqlfleet.verify import VerifyReport, reconcile, verify_database

DB = "sales"


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    return Lake.from_url(f"file://{tmp_path / 'lake'}")


def data(start: int, rows: int, *, name_type: pa.DataType | None = None) -> pa.Table:
    ids = list(range(start, start + rows))
    return pa.table(
        {
            "Op": pa.array(["I"] * rows, pa.string()),
            "_dms_ts": pa.array(["2026-11-28 10:00:00.000000"] * rows, pa.string()),
            "id": pa.array(ids, pa.int64()),
            "name": pa.array([f"n{i}" for i in ids], name_type or pa.string()),
        }
    )


def put_parquet(lake: Lake, key: str, table: pa.Table) -> None:
    with lake.open_output(key) as out:
        pq.write_table(table, out)


def put_bytes(lake: Lake, key: str, payload: bytes) -> None:
    with lake.open_output(key) as out:
        out.write(payload)


def stat(
    schema: str, table: str, rows: int, state: TableState = "Table completed", error: str | None = None
) -> TableStatistics:
    return TableStatistics(schema_name=schema, table_name=table, table_state=state, full_load_rows=rows, error=error)


def kinds(report: VerifyReport) -> list[tuple[str | None, str, str]]:
    return [(p.table, p.kind, p.severity) for p in report.problems]


def test_all_good_with_split_table_and_empty_table(lake: Lake) -> None:
    put_parquet(lake, layout.load_file_key(DB, "dbo", "orders", 1), data(0, 3))
    put_parquet(lake, layout.load_file_key(DB, "dbo", "orders", 2), data(3, 2))
    put_parquet(lake, layout.load_file_key(DB, "dbo", "customers", 1), data(0, 4))
    stats = [stat("dbo", "orders", 5), stat("dbo", "customers", 4), stat("dbo", "empty", 0)]

    report = verify_database(lake, DB, stats)

    assert report.ok
    assert report.problems == ()
    assert report.failed_tables == ()
    by_name = {t.table: t for t in report.tables}
    orders = by_name["orders"]
    assert [f.key for f in orders.files] == [
        "sales/dbo/orders/LOAD00000001.parquet",
        "sales/dbo/orders/LOAD00000002.parquet",
    ]
    assert (orders.expected_rows, orders.footer_rows, orders.ok) == (5, 5, True)
    assert orders.bytes == sum(f.size for f in orders.files) > 0
    empty = by_name["empty"]
    assert (empty.files, empty.footer_rows, empty.bytes, empty.ok) == ((), 0, 0, True)
    assert {t.table for t in report.loadable_tables} == {"orders", "customers", "empty"}


def test_missing_files(lake: Lake) -> None:
    put_parquet(lake, layout.load_file_key(DB, "dbo", "orders", 1), data(0, 3))
    report = verify_database(lake, DB, [stat("dbo", "orders", 3), stat("dbo", "lines", 7)])

    assert not report.ok
    assert kinds(report) == [("dbo.lines", "missing_files", "error")]
    assert report.failed_tables == ("dbo.lines",)
    assert [t.table for t in report.loadable_tables] == ["orders"]


def test_row_count_mismatch_names_both_numbers_and_file_count(lake: Lake) -> None:
    put_parquet(lake, layout.load_file_key(DB, "dbo", "orders", 1), data(0, 3))
    put_parquet(lake, layout.load_file_key(DB, "dbo", "orders", 2), data(3, 3))
    report = verify_database(lake, DB, [stat("dbo", "orders", 7)])

    assert kinds(report) == [("dbo.orders", "row_count_mismatch", "error")]
    message = report.problems[0].message
    assert "6 rows" in message and "7" in message and "2 file(s)" in message
    assert report.tables[0].footer_rows == 6
    assert report.loadable_tables == ()


@pytest.mark.parametrize(
    "payload",
    [b"this is not parquet at all", "truncate"],
    ids=["garbage", "truncated"],
)
def test_corrupt_file(lake: Lake, payload: bytes | str) -> None:
    put_parquet(lake, layout.load_file_key(DB, "dbo", "orders", 1), data(0, 3))
    bad_key = layout.load_file_key(DB, "dbo", "orders", 2)
    if payload == "truncate":
        sink = pa.BufferOutputStream()
        pq.write_table(data(3, 3), sink)
        raw = sink.getvalue().to_pybytes()
        put_bytes(lake, bad_key, raw[: len(raw) // 2])
    else:
        assert isinstance(payload, bytes)
        put_bytes(lake, bad_key, payload)

    report = verify_database(lake, DB, [stat("dbo", "orders", 6)])

    assert kinds(report) == [("dbo.orders", "corrupt_file", "error")]
    assert bad_key in report.problems[0].message
    assert not report.ok and report.failed_tables == ("dbo.orders",)


def test_schema_mismatch_names_the_differing_file(lake: Lake) -> None:
    put_parquet(lake, layout.load_file_key(DB, "dbo", "orders", 1), data(0, 3))
    put_parquet(lake, layout.load_file_key(DB, "dbo", "orders", 2), data(3, 3, name_type=pa.large_string()))
    put_parquet(lake, layout.load_file_key(DB, "dbo", "orders", 3), data(6, 3))
    report = verify_database(lake, DB, [stat("dbo", "orders", 9)])

    assert kinds(report) == [("dbo.orders", "schema_mismatch", "error")]
    assert report.problems[0].message.startswith("sales/dbo/orders/LOAD00000002.parquet")
    assert report.failed_tables == ("dbo.orders",)


def test_stray_objects_are_grouped_warnings_and_do_not_fail(lake: Lake) -> None:
    put_parquet(lake, layout.load_file_key(DB, "dbo", "orders", 1), data(0, 3))
    for counter in range(1, 6):
        put_parquet(lake, layout.load_file_key(DB, "dbo", "Old Table", counter), data(0, 1))
    put_bytes(lake, f"{DB}/notes.txt", b"hello")
    put_bytes(lake, f"{DB}/dbo/orders/readme.md", b"not a DMS file")
    # Another database's name that merely starts with ours must not be listed as ours.
    put_parquet(lake, layout.load_file_key(f"{DB}2", "dbo", "orders", 1), data(0, 3))

    report = verify_database(lake, DB, [stat("dbo", "orders", 3)])

    assert report.ok
    assert report.tables[0].ok and [f.key for f in report.tables[0].files] == ["sales/dbo/orders/LOAD00000001.parquet"]
    strays = [p for p in report.problems if p.kind == "stray_object"]
    assert all(p.severity == "warning" and p.table is None for p in strays)
    assert len(strays) == 3
    messages = " | ".join(p.message for p in strays)
    assert "5 object(s)" in messages and "'sales/dbo/Old Table/'" in messages
    assert "'sales/notes.txt'" in messages
    assert "'sales/dbo/orders/'" in messages


def test_thousand_stray_files_give_one_problem() -> None:
    objects = [layout.load_file_key(DB, "dbo", "gone", i) for i in range(1, 1001)]
    report = reconcile(DB, [], [LakeObject(key=k, size=10) for k in objects], {})
    assert report.ok
    assert len(report.problems) == 1
    assert "1000 object(s) (10000 bytes)" in report.problems[0].message


def test_cdc_files_warn_and_are_excluded(lake: Lake) -> None:
    put_parquet(lake, layout.load_file_key(DB, "dbo", "orders", 1), data(0, 3))
    put_parquet(lake, layout.cdc_file_key(DB, "dbo", "orders", "20261128-1000000000"), data(0, 2))

    report = verify_database(lake, DB, [stat("dbo", "orders", 3)])

    assert report.ok
    assert kinds(report) == [("dbo.orders", "stray_object", "warning")]
    assert "cdc files present, not part of a full load" in report.problems[0].message
    assert [f.key for f in report.tables[0].files] == ["sales/dbo/orders/LOAD00000001.parquet"]
    assert report.tables[0].footer_rows == 3


def test_engine_error_and_unexpected_files(lake: Lake) -> None:
    put_parquet(lake, layout.load_file_key(DB, "dbo", "ghost", 1), data(0, 2))
    stats = [
        stat("dbo", "broken", 0, state="Table error", error="conversion failed"),
        stat("dbo", "ghost", 0),
    ]
    report = verify_database(lake, DB, stats)

    assert kinds(report) == [
        ("dbo.broken", "engine_error", "error"),
        ("dbo.ghost", "unexpected_files", "error"),
    ]
    assert "conversion failed" in report.problems[0].message
    assert report.failed_tables == ("dbo.broken", "dbo.ghost")
    assert report.loadable_tables == ()


def test_odd_names_and_exact_case(lake: Lake) -> None:
    schema, table = "my schema", "Ünïcode 'quoted' \"table\""
    put_parquet(lake, layout.load_file_key(DB, schema, table, 1), data(0, 2))
    put_parquet(lake, layout.load_file_key(DB, schema, table, 2), data(2, 2))
    put_parquet(lake, layout.load_file_key(DB, "DBO", "Orders", 1), data(0, 2))

    report = verify_database(lake, DB, [stat(schema, table, 4), stat("dbo", "orders", 0)])

    assert report.ok
    odd = next(t for t in report.tables if t.schema_name == schema)
    assert (odd.table, odd.footer_rows, len(odd.files), odd.ok) == (table, 4, 2, True)
    # Names match exactly: DBO/Orders is not dbo/orders.
    assert kinds(report) == [(None, "stray_object", "warning")]
    assert "'sales/DBO/Orders/'" in report.problems[0].message

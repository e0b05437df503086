"""The warehouse contract, one scenario suite run against DuckDB and Snowflake (fakesnow).

Every scenario asserts what a reader of the warehouse sees (table contents, columns) and the
load manifest, never fakesnow's COPY status rows. The CDC files follow the CDC data contract:
``Op``, the timestamp column, the data, and last the 35-digit change sequence.
"""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sqlfleet import layout
from sqlfleet.engines.base import TableStatistics
from sqlfleet.errors import WarehouseError
from sqlfleet.lake import Lake
from sqlfleet.ledger import change_entry, full_load_entry
from sqlfleet.sql.identifiers import quote_identifier
from sqlfleet.verify import VerifiedTable, verify_database
from sqlfleet.warehouses.base import Warehouse
from tests.warehouse_contract.conftest import T0, Harness

DB = "sales"
TS = "2026-11-28 10:00:00.000000"
COLUMNS = ["id", "name", "amount"]


def load_file(
    lake: Lake, counter: int, ids: list[int], *, table: str = "orders", schema: str = "dbo", **extra: pa.Array
) -> str:
    """Write a full-load file (``Op``=I, timestamp, id, name, amount, extra columns)."""
    data = {
        "Op": pa.array(["I"] * len(ids)),
        "_dms_ts": pa.array([TS] * len(ids)),
        "id": pa.array(ids, pa.int64()),
        "name": pa.array([f"n{i}" for i in ids]),
        "amount": pa.array([Decimal(i) + Decimal("0.25") for i in ids], pa.decimal128(10, 2)),
        **extra,
    }
    key = layout.load_file_key(DB, schema, table, counter)
    with lake.open_output(key) as out:
        pq.write_table(pa.table(data), out)
    return key


def change_file(
    lake: Lake,
    stamp: str,
    changes: list[tuple[str, int, str | None, int]],
    *,
    table: str = "orders",
    schema: str = "dbo",
    **extra: pa.Array,
) -> str:
    """Write a CDC file of ``(Op, id, name, seq)`` changes; amount is ``id + 0.5`` (NULL for deletes)."""
    data = {
        "Op": pa.array([op for op, *_ in changes]),
        "_dms_ts": pa.array([f"2026-11-28 11:00:{seq % 60:02d}.000000" for *_, seq in changes]),
        "id": pa.array([i for _, i, _, _ in changes], pa.int64()),
        "name": pa.array([n for _, _, n, _ in changes]),
        "amount": pa.array(
            [None if op == "D" else Decimal(i) + Decimal("0.5") for op, i, _, _ in changes], pa.decimal128(10, 2)
        ),
        **extra,
        "_dms_change_seq": pa.array([f"{1764320400000000 + seq:016d}{seq:019d}" for *_, seq in changes]),
    }
    key = layout.cdc_file_key(DB, schema, table, stamp)
    with lake.open_output(key) as out:
        pq.write_table(pa.table(data), out)
    return key


def verified(lake: Lake, rows: int, *, table: str = "orders", schema: str = "dbo") -> VerifiedTable:
    """The full-load files of one table, verified the way the flow does."""
    stats = [TableStatistics(schema_name=schema, table_name=table, table_state="Table completed", full_load_rows=rows)]
    report = verify_database(lake, DB, stats)
    assert report.ok, report.problems
    return report.tables[0]


def window(lake: Lake, keys: list[str], *, table: str = "orders", schema: str = "dbo") -> VerifiedTable:
    """A CDC window of exactly ``keys`` (what the CDC verification hands the warehouse)."""
    objects = [o for o in lake.list(layout.table_prefix(DB, schema, table)) if o.key in keys]
    rows = sum(lake.read_footer(o.key).rows for o in objects)
    return VerifiedTable(
        schema_name=schema,
        table=table,
        expected_rows=rows,
        footer_rows=rows,
        files=tuple(objects),
        bytes=sum(o.size for o in objects),
        ok=True,
    )


def manifest(h: Harness) -> list[tuple[object, ...]]:
    rows = h.warehouse.manifest_rows(DB)
    return [(m["file_key"], m["size"], m["rows"], m["status"], m["batch_id"], m["kind"]) for m in rows]


def orders(h: Harness, target: str = "orders") -> list[tuple[object, ...]]:
    return h.rows(DB, target, COLUMNS)


def first_load(h: Harness) -> VerifiedTable:
    load_file(h.lake, 1, [1, 2])
    load_file(h.lake, 2, [3])
    table = verified(h.lake, 3)
    assert h.warehouse.load_full(DB, table, h.lake, "b1").status == "loaded"
    return table


# -- full loads ---------------------------------------------------------------------------------


def test_first_load(harness: Harness) -> None:
    load_file(harness.lake, 1, [1, 2])
    load_file(harness.lake, 2, [3])
    table = verified(harness.lake, 3)

    result = harness.warehouse.load_full(DB, table, harness.lake, "b1")

    assert isinstance(harness.warehouse, Warehouse)
    assert (result.target, result.status, result.rows, result.files, result.bytes) == (
        "orders",
        "loaded",
        3,
        2,
        table.bytes,
    )
    assert harness.columns(DB, "orders") == ["_dms_ts", "id", "name", "amount"]
    assert orders(harness) == [
        (1, "n1", Decimal("1.25")),
        (2, "n2", Decimal("2.25")),
        (3, "n3", Decimal("3.25")),
    ]
    assert manifest(harness) == [
        (table.files[0].key, table.files[0].size, 2, "loaded", "b1", "load"),
        (table.files[1].key, table.files[1].size, 1, "loaded", "b1", "load"),
    ]
    assert harness.warehouse.row_count(DB, "orders") == 3
    assert harness.warehouse.row_count(DB, "never") is None


def test_reload_with_changed_files_replaces_table_and_manifest(harness: Harness) -> None:
    first_load(harness)
    harness.lake.delete_prefix(layout.table_prefix(DB, "dbo", "orders"))
    load_file(harness.lake, 1, [10, 11, 12])
    table = verified(harness.lake, 3)

    result = harness.warehouse.load_full(DB, table, harness.lake, "b2")

    assert (result.status, result.rows, result.files) == ("loaded", 3, 1)
    assert [r[0] for r in orders(harness)] == [10, 11, 12]
    assert manifest(harness) == [(table.files[0].key, table.files[0].size, 3, "loaded", "b2", "load")]


def test_rerun_with_no_change_loads_nothing(harness: Harness) -> None:
    table = first_load(harness)
    before = manifest(harness)
    # A row no load would write: a rewrite of the table would remove it.
    harness.execute(f"INSERT INTO {harness.table(DB, 'orders')} (id, name) VALUES (99, 'sentinel')")

    again = harness.warehouse.load_full(DB, table, harness.lake, "b2")

    assert (again.status, again.rows, again.files) == ("unchanged", 4, 2)
    assert (99, "sentinel", None) in orders(harness)
    assert manifest(harness) == before


def test_failure_in_the_middle_of_a_multi_file_copy_keeps_previous_table(harness: Harness) -> None:
    first_load(harness)
    before_rows, before_manifest = orders(harness), manifest(harness)
    load_file(harness.lake, 3, [4, 5])
    table = verified(harness.lake, 5)
    # After verification, the second of three files is replaced by one whose ids are not numbers.
    bad = pa.table(
        {
            "Op": ["I"],
            "_dms_ts": [TS],
            "id": pa.array(["not-a-number"]),
            "name": ["x"],
            "amount": pa.array([None], pa.decimal128(10, 2)),
        }
    )
    with harness.lake.open_output(table.files[1].key) as out:
        pq.write_table(bad, out)

    with pytest.raises(WarehouseError) as info:
        harness.warehouse.load_full(DB, table, harness.lake, "b2")

    assert "orders" in str(info.value)
    assert orders(harness) == before_rows
    assert manifest(harness) == before_manifest
    assert harness.warehouse.row_count(DB, "orders") == 3  # the session is usable after the rollback


def test_empty_source_empties_the_table_or_skips_it(harness: Harness) -> None:
    first_load(harness)
    harness.lake.delete_prefix(layout.table_prefix(DB, "dbo", "orders"))
    empty = verified(harness.lake, 0)

    emptied = harness.warehouse.load_full(DB, empty, harness.lake, "b2")

    assert (emptied.status, emptied.rows, harness.warehouse.row_count(DB, "orders")) == ("emptied", 0, 0)
    assert manifest(harness) == [(None, 0, 0, "emptied", "b2", "load")]
    assert harness.warehouse.load_full(DB, empty, harness.lake, "b3").status == "unchanged"
    never = harness.warehouse.load_full(DB, verified(harness.lake, 0, table="never"), harness.lake, "b2")
    assert (never.status, harness.warehouse.row_count(DB, "never")) == ("skipped_empty", None)


def test_new_column_is_added_and_reported_type_change_is_refused(harness: Harness) -> None:
    first_load(harness)
    harness.lake.delete_prefix(layout.table_prefix(DB, "dbo", "orders"))
    load_file(harness.lake, 1, [1, 2], note=pa.array(["€ one", None]))

    result = harness.warehouse.load_full(DB, verified(harness.lake, 2), harness.lake, "b2")

    assert result.status == "loaded"
    assert any("added column 'note'" in n for n in result.notes)
    assert harness.columns(DB, "orders") == ["_dms_ts", "id", "name", "amount", "note"]
    assert harness.rows(DB, "orders", ["id", "note"]) == [(1, "€ one"), (2, None)]

    harness.lake.delete_prefix(layout.table_prefix(DB, "dbo", "orders"))
    load_file(harness.lake, 1, [7], note=pa.array(["x"]), amount=pa.array(["seven"]))
    with pytest.raises(WarehouseError, match="type changed, not applied: 'amount'"):
        harness.warehouse.load_full(DB, verified(harness.lake, 1), harness.lake, "b3")
    assert harness.rows(DB, "orders", ["id", "note"]) == [(1, "€ one"), (2, None)]


def test_odd_identifiers(harness: Harness) -> None:
    # Caseless Unicode in column names: fakesnow's CASE_INSENSITIVE matching upper-cases names,
    # and DuckDB folds only ASCII ("ü" would not meet "Ü"); table names are matched exactly.
    schema, table_name = "my schema", 'Order "Lines" ü'
    price = 'Unit "Price" €'
    load_file(harness.lake, 1, [1, 2], table=table_name, schema=schema, **{price: pa.array(["1 €", "2 €"])})
    table = verified(harness.lake, 2, table=table_name, schema=schema)

    result = harness.warehouse.load_full(DB, table, harness.lake, "b'1")

    target = 'my schema_Order "Lines" ü'
    assert (result.target, result.status, result.rows) == (target, "loaded", 2)
    assert harness.rows(DB, target, ["id", price]) == [(1, "1 €"), (2, "2 €")]
    assert harness.warehouse.load_full(DB, table, harness.lake, "b'2").status == "unchanged"

    key = change_file(
        harness.lake,
        "20261128-110000000",
        [("U", 2, "two", 1), ("I", 3, "three", 2)],
        table=table_name,
        schema=schema,
        **{price: pa.array(["22 €", "3 €"])},
    )
    merged = harness.warehouse.merge_changes(
        DB, window(harness.lake, [key], table=table_name, schema=schema), harness.lake, "c'1", ["id"]
    )
    assert (merged.inserted, merged.updated, merged.deleted) == (1, 1, 0)
    assert harness.rows(DB, target, ["id", "name", price]) == [
        (1, "n1", "1 €"),
        (2, "two", "22 €"),
        (3, "three", "3 €"),
    ]


# -- changes ----------------------------------------------------------------------------------------


def test_several_changes_to_one_key_in_one_batch(harness: Harness) -> None:
    first_load(harness)
    a = change_file(
        harness.lake,
        "20261128-110000000",
        [("I", 4, "a", 1), ("U", 1, "x1", 2), ("U", 1, "x2", 3), ("U", 3, "late", 90)],
    )
    b = change_file(
        harness.lake,
        "20261128-110100000",
        [("U", 1, "x3", 4), ("D", 2, None, 5), ("U", 4, "b", 6), ("U", 3, "early", 50)],
    )
    changes = window(harness.lake, [a, b])

    result = harness.warehouse.merge_changes(DB, changes, harness.lake, "c1", ["id"])

    assert (result.status, result.files) == ("loaded", 2)
    # key 1: three updates, the latest wins; key 3: the higher change sequence wins over the later file.
    assert orders(harness) == [(1, "x3", Decimal("1.50")), (3, "late", Decimal("3.50")), (4, "b", Decimal("4.50"))]
    assert (result.inserted, result.updated, result.deleted) == (1, 2, 1)
    assert (result.previous_rows, result.rows) == (3, 3)
    cdc = [m for m in manifest(harness) if m[5] == "cdc"]
    assert cdc == [
        (a, changes.files[0].size, 4, "merged", "c1", "cdc"),
        (b, changes.files[1].size, 4, "merged", "c1", "cdc"),
    ]

    again = harness.warehouse.merge_changes(DB, changes, harness.lake, "c2", ["id"])
    assert (again.status, again.files, again.inserted + again.updated + again.deleted) == ("unchanged", 0, 0)
    assert orders(harness)[0] == (1, "x3", Decimal("1.50"))
    assert [m for m in manifest(harness) if m[5] == "cdc"] == cdc


def test_insert_then_delete_in_one_batch_leaves_nothing(harness: Harness) -> None:
    first_load(harness)
    key = change_file(harness.lake, "20261128-110000000", [("I", 9, "brief", 1), ("D", 9, None, 2), ("D", 42, None, 3)])

    result = harness.warehouse.merge_changes(DB, window(harness.lake, [key]), harness.lake, "c1", ["id"])

    assert [r[0] for r in orders(harness)] == [1, 2, 3]
    assert (result.inserted, result.updated, result.deleted, result.rows) == (0, 0, 0, 3)


def test_only_new_files_of_a_window_are_applied(harness: Harness) -> None:
    first_load(harness)
    a = change_file(harness.lake, "20261128-110000000", [("U", 1, "one", 1)])
    harness.warehouse.merge_changes(DB, window(harness.lake, [a]), harness.lake, "c1", ["id"])
    # The manifest is the authority: a replayed file is skipped even if the row was changed since.
    harness.execute(f"UPDATE {harness.table(DB, 'orders')} SET name = 'edited' WHERE id = 1")
    b = change_file(harness.lake, "20261128-110100000", [("I", 5, "five", 2)])

    result = harness.warehouse.merge_changes(DB, window(harness.lake, [a, b]), harness.lake, "c2", ["id"])

    assert (result.files, result.inserted, result.updated) == (1, 1, 0)
    assert [r[:2] for r in orders(harness)] == [(1, "edited"), (2, "n2"), (3, "n3"), (5, "five")]


def test_new_column_in_changes(harness: Harness) -> None:
    first_load(harness)
    key = change_file(harness.lake, "20261128-110000000", [("U", 2, "two", 1)], note=pa.array(["new"]))

    result = harness.warehouse.merge_changes(DB, window(harness.lake, [key]), harness.lake, "c1", ["id"])

    assert any("added column 'note'" in n for n in result.notes)
    assert harness.rows(DB, "orders", ["id", "note"]) == [(1, None), (2, "new"), (3, None)]


def test_a_column_the_changes_lack_keeps_its_values_on_update(harness: Harness) -> None:
    # The full load has a column the change files do not: an update leaves it as it was (as
    # MERGE's UPDATE SET of the files' columns does), an insert leaves it NULL.
    load_file(harness.lake, 1, [1, 2], note=pa.array(["kept", "gone"]))
    harness.warehouse.load_full(DB, verified(harness.lake, 2), harness.lake, "b1")
    key = change_file(harness.lake, "20261128-110000000", [("U", 1, "one", 1), ("I", 5, "five", 2), ("D", 2, None, 3)])

    result = harness.warehouse.merge_changes(DB, window(harness.lake, [key]), harness.lake, "c1", ["id"])

    assert (result.inserted, result.updated, result.deleted, result.previous_rows, result.rows) == (1, 1, 1, 2, 2)
    assert harness.rows(DB, "orders", ["id", "name", "note"]) == [(1, "one", "kept"), (5, "five", None)]


def test_table_without_key_gets_an_append_only_change_table(harness: Harness) -> None:
    key = change_file(harness.lake, "20261128-110000000", [("I", 1, "a", 1), ("U", 1, "b", 2), ("D", 1, None, 3)])
    changes = window(harness.lake, [key])

    result = harness.warehouse.merge_changes(DB, changes, harness.lake, "c1", [])

    assert (result.target, result.status, result.inserted, result.rows) == ("orders__changes", "loaded", 3, 3)
    assert any("no key" in n for n in result.notes)
    assert harness.columns(DB, "orders__changes") == ["Op", "_dms_ts", "id", "name", "amount", "_dms_change_seq"]
    assert harness.rows(DB, "orders__changes", ["Op", "id", "name"]) == [("D", 1, None), ("I", 1, "a"), ("U", 1, "b")]
    assert harness.warehouse.merge_changes(DB, changes, harness.lake, "c2", []).status == "unchanged"
    assert harness.warehouse.row_count(DB, "orders__changes") == 3


def test_changes_without_the_change_sequence_are_refused(harness: Harness) -> None:
    first_load(harness)
    key = layout.cdc_file_key(DB, "dbo", "orders", "20261128-110000000")
    with harness.lake.open_output(key) as out:
        pq.write_table(pa.table({"Op": ["U"], "_dms_ts": [TS], "id": pa.array([1], pa.int64()), "name": ["x"]}), out)

    with pytest.raises(WarehouseError, match="change sequence column '_dms_change_seq'"):
        harness.warehouse.merge_changes(DB, window(harness.lake, [key]), harness.lake, "c1", ["id"])
    assert orders(harness)[0] == (1, "n1", Decimal("1.25"))
    assert [m for m in manifest(harness) if m[5] == "cdc"] == []


# -- the ledger ------------------------------------------------------------------------------------


def test_ledger_is_kept_in_the_warehouse(harness: Harness) -> None:
    table = first_load(harness)
    loaded = harness.warehouse.load_full(DB, table, harness.lake, "b2")
    key = change_file(harness.lake, "20261128-110000000", [("I", 4, "a", 1), ("D", 1, None, 2)])
    changes = window(harness.lake, [key])
    merged = harness.warehouse.merge_changes(DB, changes, harness.lake, "c1", ["id"])
    entries = [full_load_entry(DB, "b2", table, loaded, T0), change_entry(DB, "c1", changes, merged, T0)]

    harness.warehouse.record_ledger(entries)

    stored = harness.warehouse.ledger_rows()
    assert [(r["kind"], r["status"], r["footer_rows"], r["warehouse_rows"]) for r in stored] == [
        ("full-load", "ok", 3, 3),
        ("cdc", "ok", 2, 3),
    ]
    assert (stored[1]["inserted"], stored[1]["deleted"], stored[1]["previous_rows"]) == (1, 1, 3)
    assert stored[0]["recorded_at"] == T0 and quote_identifier(stored[0]["target"]) == '"orders"'


def test_every_dms_type_survives(harness: Harness) -> None:
    from datetime import date, datetime, time

    values = {
        "amount": pa.array([Decimal("12345678901234567890123456.0123456789"), None], pa.decimal128(38, 10)),
        "at": pa.array([datetime(2024, 2, 29, 23, 59, 59, 999999), None], pa.timestamp("us")),
        "day": pa.array([date(2024, 2, 29), None], pa.date32()),
        "clock": pa.array([time(23, 59, 59, 999999), None], pa.time64("us")),
        "flag": pa.array([True, False], pa.bool_()),
        "blob": pa.array([b"\x00\xff\x10", None], pa.binary()),
        "ratio": pa.array([0.1, None], pa.float64()),
        "tiny": pa.array([255, 0], pa.uint8()),
        "text": pa.array(["日本語 ü 😀", 'it\'s "quoted"'], pa.string()),
    }
    data = pa.table({"Op": ["I", "I"], "_dms_ts": [TS, TS], **values})
    with harness.lake.open_output(layout.load_file_key(DB, "dbo", "types", 1)) as out:
        pq.write_table(data, out)

    harness.warehouse.load_full(DB, verified(harness.lake, 2, table="types"), harness.lake, "b1")

    assert harness.rows(DB, "types", list(values)) == sorted(
        [
            (
                Decimal("12345678901234567890123456.0123456789"),
                datetime(2024, 2, 29, 23, 59, 59, 999999),
                date(2024, 2, 29),
                time(23, 59, 59, 999999),
                True,
                b"\x00\xff\x10",
                0.1,
                255,
                "日本語 ü 😀",
            ),
            (None, None, None, None, False, None, None, 0, 'it\'s "quoted"'),
        ],
        key=repr,
    )

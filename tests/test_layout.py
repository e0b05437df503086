"""Lake keys: format and parse round trip, DMS hex counters, odd names."""

from __future__ import annotations

import pytest

from sqlfleet import layout


@pytest.mark.parametrize(
    ("counter", "name"),
    [
        (1, "LOAD00000001.parquet"),
        (9, "LOAD00000009.parquet"),
        (10, "LOAD0000000A.parquet"),
        (15, "LOAD0000000F.parquet"),
        (16, "LOAD00000010.parquet"),
        (0xFFFFFFFF, "LOADFFFFFFFF.parquet"),
    ],
)
def test_load_file_names_use_an_eight_digit_upper_case_hex_counter(counter: int, name: str) -> None:
    assert layout.load_file_name(counter) == name


@pytest.mark.parametrize("bad", [0, -1, 0x100000000])
def test_counter_out_of_range_is_refused(bad: int) -> None:
    with pytest.raises(ValueError, match="counter"):
        layout.load_file_name(bad)


@pytest.mark.parametrize(
    ("database", "schema", "table"),
    [
        ("sales_eu", "dbo", "Customer"),
        ("crm", "Sales", "Sales Order Line"),
        ("db-1", "dbo", "Località"),
        ("x", "weird schema", "quote\"s and 'apos'"),
        ("x", "dbo", "東京 😀"),
    ],
)
@pytest.mark.parametrize("counter", [1, 10, 255, 4096])
def test_load_keys_round_trip(database: str, schema: str, table: str, counter: int) -> None:
    key = layout.load_file_key(database, schema, table, counter)
    assert key.startswith(layout.table_prefix(database, schema, table))
    parsed = layout.parse_key(key)
    assert parsed is not None
    assert (parsed.database, parsed.schema_name, parsed.table, parsed.kind, parsed.counter) == (
        database,
        schema,
        table,
        "load",
        counter,
    )
    assert parsed.segment is None


def test_partition_folder_and_unnamed_segment_keys_parse() -> None:
    key = layout.load_file_key("db", "dbo", "Big", 3, part="p2024")
    assert key == "db/dbo/Big/p2024/LOAD00000003.parquet"
    parsed = layout.parse_key(key)
    assert parsed is not None and parsed.segment == "p2024" and parsed.counter == 3
    seg = layout.load_file_key("db", "dbo", "Big", 1, segment_number=2)
    assert seg == "db/dbo/Big/SEGMENT2_LOAD00000001.parquet"
    parsed = layout.parse_key(seg)
    assert parsed is not None and parsed.segment == "SEGMENT2" and parsed.counter == 1


def test_cdc_keys_round_trip_and_date_partitions_parse() -> None:
    key = layout.cdc_file_key("db", "dbo", "Orders", "20141029-1134010000")
    assert key == "db/dbo/Orders/20141029-1134010000.parquet"
    parsed = layout.parse_key(key)
    assert parsed is not None and parsed.kind == "cdc" and parsed.cdc_stamp == "20141029-1134010000"
    dated = layout.parse_key("db/dbo/Orders/2014/10/29/20141029-1134010000.parquet")
    assert dated is not None and dated.kind == "cdc" and dated.table == "Orders"


@pytest.mark.parametrize(
    "key",
    [
        "db/dbo/T/notes.txt",
        "db/dbo/T/load00000001.parquet",
        "db/dbo/T/LOAD0000001.parquet",
        "db/dbo/LOAD00000001.parquet",
        "db//T/LOAD00000001.parquet",
        "db/dbo/T/a/b/LOAD00000001.parquet",
        "db/dbo/T/p1/SEGMENT1_LOAD00000001.parquet",
        "db/notes.txt",
    ],
)
def test_non_dms_keys_do_not_parse(key: str) -> None:
    assert layout.parse_key(key) is None


@pytest.mark.parametrize("bad", ["", ".", "..", "a/b"])
def test_names_that_cannot_be_a_key_segment_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="lake key"):
        layout.table_prefix("db", "dbo", bad)

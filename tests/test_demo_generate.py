"""The demo fleet generator: deterministic, SQL Server-shaped SQLite sources with realistic traps."""

from __future__ import annotations

import re
import sqlite3
import statistics
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pyarrow as pa
import pytest

from sqlfleet.demo import (
    GeneratedDatabase,
    fleet_database_names,
    generate_database,
    generate_fleet,
    planned_row_counts,
    scale_for_total_rows,
)
from sqlfleet.sourcetypes import map_declared_type
from sqlfleet.sql.identifiers import quote_identifier as q

SMALL = 0.05
REQUIRED_TYPES = {
    "int", "bigint", "smallint", "tinyint", "decimal(19,4)", "decimal(38,10)", "numeric(9,2)", "money",
    "nvarchar(50)", "nvarchar(max)", "varchar(20)", "nchar(3)", "datetime2", "datetime", "date", "bit",
    "uniqueidentifier", "varbinary(max)", "varbinary(16)", "float", "real", "time",
}  # fmt: skip
TEXTUAL = {"nvarchar", "varchar", "nchar", "uniqueidentifier"}
DATETIME7 = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{7}$")
DATETIME3 = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
TIME7 = re.compile(r"^\d{2}:\d{2}:\d{2}\.\d{7}$")
GUID = re.compile(r"^[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$")


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> GeneratedDatabase:
    """One database at scale 1 (about a second to generate), shared by the read-only checks."""
    return generate_database(tmp_path_factory.mktemp("full") / "sales_eu.db", seed=7)


@pytest.fixture(scope="module")
def conn(full: GeneratedDatabase) -> Iterator[sqlite3.Connection]:
    with closing(sqlite3.connect(full.path)) as connection:
        yield connection


def _tables(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY rowid")
    return [r[0] for r in rows]


def _columns(conn: sqlite3.Connection, table: str) -> list[tuple[str, str, bool]]:
    """(name, declared type, NOT NULL) of each column."""
    return [(r[1], r[2], bool(r[3])) for r in conn.execute(f"PRAGMA table_info({q(table)})")]


def _content(path: Path) -> dict[str, list[tuple[object, ...]]]:
    with closing(sqlite3.connect(path)) as c:
        names = [r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")]
        return {n: c.execute(f"SELECT * FROM {q(n)} ORDER BY rowid").fetchall() for n in names}


def _column_values(conn: sqlite3.Connection, table: str, column: str) -> list[object]:
    return [r[0] for r in conn.execute(f"SELECT {q(column)} FROM {q(table)} ORDER BY rowid")]


def test_same_seed_gives_identical_content_and_another_seed_differs(tmp_path: Path) -> None:
    first = generate_fleet(tmp_path / "a", databases=2, seed=11, scale=SMALL)
    second = generate_fleet(tmp_path / "b", databases=2, seed=11, scale=SMALL)
    other = generate_fleet(tmp_path / "c", databases=2, seed=12, scale=SMALL)

    for a, b, c in zip(first, second, other, strict=True):
        content = _content(a.path)
        assert content == _content(b.path)
        assert a.path.read_bytes() == b.path.read_bytes()
        other_content = _content(c.path)
        assert content.keys() == other_content.keys()
        assert content["Customer"] != other_content["Customer"]
        assert content["Sales Order Line"] != other_content["Sales Order Line"]
    assert _content(first[0].path)["Customer"] != _content(first[1].path)["Customer"]


def test_content_does_not_depend_on_insert_chunking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    default = generate_database(tmp_path / "a.db", seed=4, scale=SMALL)
    monkeypatch.setattr("sqlfleet.demo.generate._CHUNK_ROWS", 777)
    chunked = generate_database(tmp_path / "b.db", seed=4, scale=SMALL)

    assert default.tables["Sales Order Line"] > 777
    assert _content(default.path) == _content(chunked.path)


def test_fleet_names_paths_and_summary(tmp_path: Path) -> None:
    dbs = generate_fleet(tmp_path, databases=2, seed=3, scale=SMALL)

    assert [d.name for d in dbs] == ["sales_eu", "sales_us"]
    assert [d.path for d in dbs] == [tmp_path / "sales_eu.db", tmp_path / "sales_us.db"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sales_eu.db", "sales_us.db"]
    for db in dbs:
        with closing(sqlite3.connect(db.path)) as c:
            assert db.tables == {t: c.execute(f"SELECT count(*) FROM {q(t)}").fetchone()[0] for t in _tables(c)}
        assert db.total_rows == sum(db.tables.values())


def test_fleet_names_cycle_with_a_suffix() -> None:
    names = fleet_database_names(30)

    assert names[:5] == ["sales_eu", "sales_us", "crm_apac", "hr_global", "inventory_emea"]
    assert len(set(names)) == 30
    assert names[12:14] == ["sales_eu_2", "sales_us_2"]
    assert names[24] == "sales_eu_3"


def test_forty_tables_three_views_one_empty_and_skewed_sizes(full: GeneratedDatabase) -> None:
    counts = full.tables

    assert len(counts) == 40
    assert len(full.views) == 3
    assert [t for t, n in counts.items() if n == 0] == ["legacy_order_archive"]
    biggest = max(counts, key=counts.__getitem__)
    assert biggest == "Sales Order Line"
    assert counts[biggest] > 5 * statistics.median(counts.values())
    assert 100_000 <= full.total_rows <= 150_000
    medium = [t for t, n in counts.items() if 2_000 <= n <= 10_000]
    small = [t for t, n in counts.items() if 50 <= n <= 1_000]
    assert 3 <= len(medium) <= 10
    assert len(small) >= 25


def test_views_query_and_aggregate_columns_have_no_declared_type(
    full: GeneratedDatabase, conn: sqlite3.Connection
) -> None:
    views = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'view'")]
    assert sorted(views) == sorted(full.views)
    for view in views:
        assert conn.execute(f"SELECT count(*) FROM {q(view)}").fetchone()[0] > 0
    untyped = [c for c, declared, _ in _columns(conn, "vw_product_sales") if not declared]
    assert {"line_count", "revenue"} <= set(untyped)


def test_every_declared_type_is_present_and_maps_to_its_arrow_type(conn: sqlite3.Connection) -> None:
    # SQLite reports the plain names INT and REAL upper-cased, so compare case-insensitively.
    declared = {d.lower() for t in _tables(conn) for _, d, _ in _columns(conn, t)}

    assert declared >= REQUIRED_TYPES
    for decl in declared:
        _, arrow_type = map_declared_type(decl)
        textual = decl.split("(")[0] in TEXTUAL
        assert pa.types.is_string(arrow_type) == textual, decl
    assert map_declared_type("decimal(38,10)")[1] == pa.decimal128(38, 10)
    assert map_declared_type("nvarchar(max)")[0] == "text"
    assert map_declared_type("varbinary(max)")[0] == "binary"


def test_every_table_has_a_not_null_primary_key(conn: sqlite3.Connection) -> None:
    key_types = []
    for table in _tables(conn):
        info = list(conn.execute(f"PRAGMA table_info({q(table)})"))
        key = [(r[2].lower(), bool(r[3])) for r in sorted(info, key=lambda r: r[5]) if r[5]]
        assert key, table
        assert all(not_null for _, not_null in key), table
        key_types.append(tuple(t for t, _ in key))
    assert sum(len(k) > 1 for k in key_types) >= 1
    assert ("uniqueidentifier",) in key_types
    assert all(k in {("int",), ("bigint",)} for k in key_types if len(k) == 1 and k != ("uniqueidentifier",))


def test_values_are_stored_as_a_sql_server_copy_leaves_them(conn: sqlite3.Connection) -> None:
    checks = {
        "datetime2": DATETIME7,
        "datetime": DATETIME3,
        "date": DATE,
        "time": TIME7,
        "uniqueidentifier": GUID,
    }
    seen = set()
    for table in _tables(conn):
        for column, declared, _ in _columns(conn, table):
            values = [v for v in _column_values(conn, table, column) if v is not None]
            if table == "edge_values" or not values:
                continue
            decl = declared.lower()
            if decl in checks:
                assert all(isinstance(v, str) and checks[decl].match(v) for v in values), (table, column)
                seen.add(decl)
            elif decl == "bit":
                assert set(values) <= {0, 1}, (table, column)
            elif decl.startswith("varbinary"):
                assert all(isinstance(v, bytes) for v in values), (table, column)
    assert seen == set(checks)
    # NUMERIC affinity stores whole amounts as INTEGER, the rest as REAL: readers must cope.
    kinds = {r[0] for r in conn.execute('SELECT typeof(unit_price) FROM "Sales Order Line"')}
    assert kinds == {"integer", "real"}


def test_nulls_first_row_nulls_and_bit_nulls(conn: sqlite3.Connection) -> None:
    first_row_null, bit_with_nulls, rates = [], [], {}
    for table in _tables(conn):
        rows = conn.execute(f"SELECT count(*) FROM {q(table)}").fetchone()[0]
        if table == "edge_values" or rows == 0:
            continue
        for column, declared, not_null in _columns(conn, table):
            values = _column_values(conn, table, column)
            nulls = values.count(None)
            assert not (not_null and nulls), (table, column)
            if values[0] is None:
                first_row_null.append((table, column))
            if declared == "bit" and nulls:
                bit_with_nulls.append((table, column))
            if not not_null:
                rates[(table, column)] = nulls / rows
                if rows >= 500:
                    assert 0.04 <= nulls / rows <= 0.42, (table, column, nulls / rows)

    assert len(rates) >= 30
    assert ("Customer", "email_opt_in") in first_row_null
    assert ("Customer", "credit_limit") in first_row_null
    assert bit_with_nulls
    # A column NULL for the whole first 1024-row batch, then filled: defeats per-batch type inference.
    correlation = _column_values(conn, "audit_event", "correlation_id")
    assert all(v is None for v in correlation[:1500])
    assert any(v is not None for v in correlation[1500:])


def test_unicode_text_and_awkward_names(conn: sqlite3.Connection) -> None:
    texts = [
        v
        for table, column in [("Customer", "First Name"), ("Customer", "LastName"), ("Address", "city")]
        for v in _column_values(conn, table, column)
    ]
    blob = "\n".join(str(v) for v in texts)
    for sample in ["Zoë", "東京", "Łódź", "שרה"]:
        assert sample in blob, sample
    reviews = "\n".join(str(v) for v in _column_values(conn, "product_review", "comments"))
    assert "😀" in reviews
    assert "שלום" in reviews

    tables = _tables(conn)
    assert {"Sales Order Line", "Price History", "Customer", "ProductCategory", "Località"} <= set(tables)
    assert any(" " in t for t in tables)
    assert any(t != t.lower() and " " not in t for t in tables)
    assert any(not t.isascii() for t in tables)
    customer = [c for c, _, _ in _columns(conn, "Customer")]
    assert "First Name" in customer
    assert "LastName" in customer


def test_edge_values_survive_sqlite_exactly(conn: sqlite3.Connection) -> None:
    rows = {r[0]: r for r in conn.execute("SELECT * FROM edge_values")}
    names = [c for c, _, _ in _columns(conn, "edge_values")]
    by_label = {r[names.index("label")]: dict(zip(names, r, strict=True)) for r in rows.values()}

    top, bottom = by_label["max"], by_label["min"]
    assert top["big_integer"] == top["huge_decimal"] == 9_223_372_036_854_775_807
    assert bottom["big_integer"] == bottom["huge_decimal"] == -9_223_372_036_854_775_808
    assert top["happened_at"] == "9999-12-31 23:59:59.9999999"
    assert bottom["happened_at"] == "0001-01-01 00:00:00.0000000"
    assert top["short_text"] == 'O\'Brien "the" \\ back'
    assert len(top["note"]) >= 100_000
    assert len(top["payload"]) == 1024
    assert bottom["short_text"] == "" and bottom["note"] == "" and bottom["payload"] == b""
    assert by_label["zero"]["short_text"] is None and by_label["zero"]["payload"] is None
    assert by_label["tiny"]["amount"] == 0.0001
    assert by_label["nulls"]["big_integer"] is None
    assert any(v < 0 for v in (bottom["int_value"], bottom["small_value"], bottom["amount"]))


def test_regenerating_replaces_the_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "crm_apac.db"
    path.write_bytes(b"not a database")
    generate_database(path, seed=1, scale=SMALL)
    with closing(sqlite3.connect(path)) as c, c:
        c.execute("CREATE TABLE leftover (x int)")
        c.execute('DELETE FROM "Customer"')

    again = generate_database(path, seed=2, scale=SMALL)

    fresh = generate_database(tmp_path / "fresh" / "crm_apac.db", seed=2, scale=SMALL)
    assert _content(path) == _content(fresh.path)
    assert again.tables == fresh.tables
    assert sorted(p.name for p in tmp_path.iterdir()) == ["crm_apac.db", "fresh"]


def test_scale_and_big_table_override(tmp_path: Path) -> None:
    db = generate_database(tmp_path / "bench.db", seed=5, scale=0.02, big_table_rows=4_321)

    assert db.tables["Sales Order Line"] == 4_321
    assert db.tables["Customer"] == round(4_000 * 0.02)
    assert db.tables["legacy_order_archive"] == 0
    assert min(n for t, n in db.tables.items() if t != "legacy_order_archive") >= 1


def test_scale_for_a_five_million_row_benchmark() -> None:
    scale = scale_for_total_rows(5_000_000, big_table_rows=1_200_000)
    counts = planned_row_counts(scale, big_table_rows=1_200_000)

    assert counts["Sales Order Line"] == 1_200_000
    assert sum(counts.values()) == pytest.approx(5_000_000, rel=0.01)
    with pytest.raises(ValueError, match="scale"):
        planned_row_counts(0)

"""Pure builders of the DuckDB statements the embedded warehouse runs.

Every identifier goes through ``quote_identifier`` and every path or name used as a value
through ``quote_literal``; nothing here touches a connection. The manifest insert is the one
statement with ``?`` parameters, because its values (timestamps, integers) are data, not SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sqlfleet.sql import bookkeeping
from sqlfleet.sql.bookkeeping import ColumnKind, ManifestKind, column_list, columns_ddl
from sqlfleet.sql.identifiers import qualified_name, quote_identifier, quote_literal

MANIFEST_SCHEMA = bookkeeping.BOOKKEEPING_SCHEMA
MANIFEST_TABLE = bookkeeping.MANIFEST_TABLE

TYPES: dict[ColumnKind, str] = {"text": "VARCHAR", "int": "BIGINT", "timestamp": "TIMESTAMP"}

#: Manifest columns and their DuckDB types, in table order.
MANIFEST_COLUMNS: tuple[tuple[str, str], ...] = tuple((n, TYPES[k]) for n, k in bookkeeping.MANIFEST_COLUMNS)

_MANIFEST = qualified_name(MANIFEST_SCHEMA, MANIFEST_TABLE)
_LEDGER = qualified_name(MANIFEST_SCHEMA, bookkeeping.LEDGER_TABLE)


def _col(name: str) -> str:
    return quote_identifier(name)


def _path_list(paths: Sequence[str | Path]) -> str:
    if not paths:
        raise ValueError("read_parquet needs at least one file")
    return "[" + ", ".join(quote_literal(str(p)) for p in paths) + "]"


def _where_target(database: str, target: str, kind: ManifestKind) -> str:
    return (
        f"{_col('database')} = {quote_literal(database)} AND {_col('target')} = {quote_literal(target)} "
        f"AND {_col('kind')} = {quote_literal(kind)}"
    )


def create_schema_sql(schema: str) -> str:
    """``CREATE SCHEMA IF NOT EXISTS`` for one schema."""
    return f"CREATE SCHEMA IF NOT EXISTS {quote_identifier(schema)}"


def create_manifest_sql() -> list[str]:
    """Statements creating the bookkeeping schema, the manifest and the ledger (idempotent).

    A manifest from before change loading had no ``kind`` column: its rows are full loads.
    """
    return [
        create_schema_sql(MANIFEST_SCHEMA),
        f"CREATE TABLE IF NOT EXISTS {_MANIFEST} ({columns_ddl(bookkeeping.MANIFEST_COLUMNS, TYPES)})",
        f"ALTER TABLE {_MANIFEST} ADD COLUMN IF NOT EXISTS {_col('kind')} VARCHAR DEFAULT 'load'",
        f"CREATE TABLE IF NOT EXISTS {_LEDGER} ({columns_ddl(bookkeeping.LEDGER_COLUMNS, TYPES)})",
    ]


def table_exists_sql(schema: str, table: str) -> str:
    """One row with the number (0 or 1) of tables named ``schema.table`` in the current catalog.

    ``duckdb_tables()`` rather than ``information_schema.tables``: about four times faster, and
    the check runs for every table of every load.
    """
    return (
        "SELECT count(*) FROM duckdb_tables() "
        f"WHERE database_name = current_database() AND schema_name = {quote_literal(schema)} "
        f"AND table_name = {quote_literal(table)}"
    )


def parquet_columns_sql(paths: Sequence[str | Path]) -> str:
    """A zero-row query whose result description lists the files' column names."""
    return f"SELECT * FROM read_parquet({_path_list(paths)}) LIMIT 0"


def replace_table_from_parquet_sql(
    schema: str,
    table: str,
    paths: Sequence[str | Path],
    exclude: Sequence[str] = ("Op",),
    keep: Sequence[tuple[str, str]] = (),
) -> str:
    """``CREATE OR REPLACE TABLE`` from Parquet files in one statement, minus ``exclude`` columns.

    ``exclude`` columns are left out if the files have them (a ``COLUMNS`` lambda, so the files
    need no prior ``DESCRIBE``). ``keep`` are ``(name, type)`` columns of the existing table that
    the files no longer have: they stay, as NULLs, like Snowflake's ``MATCH_BY_COLUMN_NAME``
    leaves them. The statement returns the number of rows it wrote.
    """
    columns = "*"
    if exclude:
        columns = "COLUMNS(lambda c: c NOT IN (" + ", ".join(quote_literal(c) for c in exclude) + "))"
    for name, sql_type in keep:
        columns += f", CAST(NULL AS {sql_type}) AS {quote_identifier(name)}"
    return (
        f"CREATE OR REPLACE TABLE {qualified_name(schema, table)} AS "
        f"SELECT {columns} FROM read_parquet({_path_list(paths)})"
    )


def describe_columns_sql(schema: str, table: str) -> str:
    """``column_name, column_type`` (and more) of one table, in column order."""
    return f"DESCRIBE {qualified_name(schema, table)}"


def describe_parquet_sql(paths: Sequence[str | Path], *, union_by_name: bool = False) -> str:
    """``column_name, column_type`` (and more) of Parquet files, as DuckDB reads them."""
    options = ", union_by_name = true" if union_by_name else ""
    return f"DESCRIBE SELECT * FROM read_parquet({_path_list(paths)}{options})"


def add_column_sql(schema: str, table: str, column: str, sql_type: str) -> str:
    """``ALTER TABLE ... ADD COLUMN`` (a column the source gained)."""
    return f"ALTER TABLE {qualified_name(schema, table)} ADD COLUMN {quote_identifier(column)} {sql_type}"


def file_rows_sql(paths: Sequence[str | Path]) -> str:
    """File name and row count of each Parquet file, from the footers only."""
    return f"SELECT file_name, num_rows FROM parquet_file_metadata({_path_list(paths)})"


def count_rows_sql(schema: str, table: str) -> str:
    """``SELECT count(*)`` of one table."""
    return f"SELECT count(*) FROM {qualified_name(schema, table)}"


def delete_rows_sql(schema: str, table: str) -> str:
    """Delete every row of one table, keeping its columns."""
    return f"DELETE FROM {qualified_name(schema, table)}"


def select_columns_sql(schema: str, table: str, columns: Sequence[str]) -> str:
    """Every row of ``columns`` (in that order) of one table."""
    if not columns:
        raise ValueError("select at least one column")
    return f"SELECT {', '.join(quote_identifier(c) for c in columns)} FROM {qualified_name(schema, table)}"


def table_columns_sql(schema: str, table: str) -> str:
    """Column names of one table in their order."""
    return (
        "SELECT column_name FROM information_schema.columns "
        f"WHERE table_catalog = current_database() AND table_schema = {quote_literal(schema)} "
        f"AND table_name = {quote_literal(table)} ORDER BY ordinal_position"
    )


def all_tables_sql() -> str:
    """``schema, table`` of every table in the current catalog."""
    return "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = current_database()"


def latest_load_manifests_sql() -> str:
    """``database, target, file_key, size`` of every target's latest full-load batch (NULL key: emptied)."""
    same = " AND ".join(f"l.{_col(c)} = m.{_col(c)}" for c in ("database", "target", "kind"))
    return (
        f"SELECT m.{_col('database')}, m.{_col('target')}, m.{_col('file_key')}, m.{_col('size')} "
        f"FROM {_MANIFEST} AS m WHERE m.{_col('kind')} = 'load' AND m.{_col('batch_id')} = "
        f"(SELECT arg_max(l.{_col('batch_id')}, l.{_col('loaded_at')}) FROM {_MANIFEST} AS l WHERE {same})"
    )


def delete_manifest_sql(database: str, target: str, kind: ManifestKind = "load") -> str:
    """Remove a target's manifest rows of one kind (a full load replaces its ``load`` rows)."""
    return f"DELETE FROM {_MANIFEST} WHERE {_where_target(database, target, kind)}"


def applied_change_files_sql(database: str, target: str) -> str:
    """Keys of the change files already applied to a target."""
    return f"SELECT {_col('file_key')} FROM {_MANIFEST} WHERE {_where_target(database, target, 'cdc')}"


def insert_manifest_sql(rows: int = 1) -> str:
    """Parameterised insert of ``rows`` manifest rows (values in ``MANIFEST_COLUMNS`` order, row after row)."""
    if rows < 1:
        raise ValueError("insert at least one manifest row")
    marks = "(" + ", ".join("?" for _ in MANIFEST_COLUMNS) + ")"
    values = ", ".join(marks for _ in range(rows))
    return f"INSERT INTO {_MANIFEST} ({column_list(bookkeeping.MANIFEST_COLUMNS)}) VALUES {values}"


def manifest_rows_sql(database: str) -> str:
    """Every manifest row of one database, ordered by target, kind and file key."""
    return (
        f"SELECT {column_list(bookkeeping.MANIFEST_COLUMNS)} FROM {_MANIFEST} "
        f"WHERE {_col('database')} = {quote_literal(database)} "
        f"ORDER BY {_col('target')}, {_col('kind')}, {_col('file_key')} NULLS FIRST"
    )


def insert_ledger_sql() -> str:
    """Parameterised insert of one ledger entry (values in ``LEDGER_COLUMNS`` order)."""
    marks = ", ".join("?" for _ in bookkeeping.LEDGER_COLUMNS)
    return f"INSERT INTO {_LEDGER} ({column_list(bookkeeping.LEDGER_COLUMNS)}) VALUES ({marks})"

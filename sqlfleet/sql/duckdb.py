"""Pure builders of the DuckDB statements the embedded warehouse runs.

Every identifier goes through ``quote_identifier`` and every path or name used as a value
through ``quote_literal``; nothing here touches a connection. The manifest insert is the one
statement with ``?`` parameters, because its values (timestamps, integers) are data, not SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sqlfleet.sql.identifiers import qualified_name, quote_identifier, quote_literal

MANIFEST_SCHEMA = "_sqlfleet"
MANIFEST_TABLE = "load_manifest"

#: Manifest columns and their DuckDB types, in table order.
MANIFEST_COLUMNS: tuple[tuple[str, str], ...] = (
    ("database", "VARCHAR"),
    ("schema_name", "VARCHAR"),
    ("table_name", "VARCHAR"),
    ("target", "VARCHAR"),
    ("file_key", "VARCHAR"),
    ("size", "BIGINT"),
    ("rows", "BIGINT"),
    ("batch_id", "VARCHAR"),
    ("loaded_at", "TIMESTAMP"),
    ("status", "VARCHAR"),
)

_MANIFEST = qualified_name(MANIFEST_SCHEMA, MANIFEST_TABLE)


def _col(name: str) -> str:
    return quote_identifier(name)


def _path_list(paths: Sequence[str | Path]) -> str:
    if not paths:
        raise ValueError("read_parquet needs at least one file")
    return "[" + ", ".join(quote_literal(str(p)) for p in paths) + "]"


def _where_target(database: str, target: str) -> str:
    return f"{_col('database')} = {quote_literal(database)} AND {_col('target')} = {quote_literal(target)}"


def create_schema_sql(schema: str) -> str:
    """``CREATE SCHEMA IF NOT EXISTS`` for one schema."""
    return f"CREATE SCHEMA IF NOT EXISTS {quote_identifier(schema)}"


def create_manifest_sql() -> list[str]:
    """Statements creating the manifest schema and table (idempotent)."""
    columns = ", ".join(f"{_col(name)} {sql_type}" for name, sql_type in MANIFEST_COLUMNS)
    return [
        create_schema_sql(MANIFEST_SCHEMA),
        f"CREATE TABLE IF NOT EXISTS {_MANIFEST} ({columns})",
    ]


def table_exists_sql(schema: str, table: str) -> str:
    """One row with the number (0 or 1) of tables named ``schema.table`` in the current catalog."""
    return (
        "SELECT count(*) FROM information_schema.tables "
        f"WHERE table_catalog = current_database() AND table_schema = {quote_literal(schema)} "
        f"AND table_name = {quote_literal(table)}"
    )


def parquet_columns_sql(paths: Sequence[str | Path]) -> str:
    """A zero-row query whose result description lists the files' column names."""
    return f"SELECT * FROM read_parquet({_path_list(paths)}) LIMIT 0"


def replace_table_from_parquet_sql(
    schema: str, table: str, paths: Sequence[str | Path], exclude: Sequence[str] = ("Op",)
) -> str:
    """``CREATE OR REPLACE TABLE`` from Parquet files in one statement, minus ``exclude`` columns."""
    columns = "*"
    if exclude:
        columns += " EXCLUDE (" + ", ".join(quote_identifier(c) for c in exclude) + ")"
    return (
        f"CREATE OR REPLACE TABLE {qualified_name(schema, table)} AS "
        f"SELECT {columns} FROM read_parquet({_path_list(paths)})"
    )


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


def latest_manifest_sql(database: str, target: str) -> str:
    """``file_key``, ``size`` of the latest manifest batch of one target (NULL key: an emptied batch)."""
    where = _where_target(database, target)
    return (
        f"SELECT {_col('file_key')}, {_col('size')} FROM {_MANIFEST} WHERE {where} "
        f"AND {_col('batch_id')} = (SELECT arg_max({_col('batch_id')}, {_col('loaded_at')}) "
        f"FROM {_MANIFEST} WHERE {where})"
    )


def delete_manifest_sql(database: str, target: str) -> str:
    """Remove every manifest row of one target."""
    return f"DELETE FROM {_MANIFEST} WHERE {_where_target(database, target)}"


def insert_manifest_sql() -> str:
    """Parameterised insert of one manifest row (values in ``MANIFEST_COLUMNS`` order)."""
    columns = ", ".join(_col(name) for name, _ in MANIFEST_COLUMNS)
    marks = ", ".join("?" for _ in MANIFEST_COLUMNS)
    return f"INSERT INTO {_MANIFEST} ({columns}) VALUES ({marks})"


def manifest_rows_sql(database: str) -> str:
    """Every manifest row of one database, ordered by target and file key."""
    columns = ", ".join(_col(name) for name, _ in MANIFEST_COLUMNS)
    return (
        f"SELECT {columns} FROM {_MANIFEST} WHERE {_col('database')} = {quote_literal(database)} "
        f"ORDER BY {_col('target')}, {_col('file_key')} NULLS FIRST"
    )

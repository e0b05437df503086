"""Pure builders of the DuckDB statements that apply CDC files (the twin of the Snowflake MERGE).

DuckDB reads the change files directly (``read_parquet(..., union_by_name = true)``, so a window
whose files gained a column reads as one relation) and tags each row with its file, which is
the contract's last tie-breaker. The window is read ONCE into a temporary staging table holding
the latest change per key (``QUALIFY ROW_NUMBER()``) and whether its key is in the target.

The staged changes are applied as ``DELETE`` of every matched key followed by ``INSERT`` of
every ``I``/``U`` after image, not as ``MERGE ... WHEN MATCHED THEN UPDATE``: the result is the
same upsert, but DuckDB's ``UPDATE`` keeps undo data for every vector it touches and estimates
the WAL from it, so a MERGE updating 1% of a 600k-row table ran the update for ~120 ms and then
checkpointed the whole file at commit (``checkpoint_threshold``, 16 MiB), while the deletion and
the append cost ~10 ms and write ~1.5 MB of WAL (bench/delta.py). Target columns the files
lack are copied into the staged rows of matched keys first, so they keep their values as a
MERGE's ``UPDATE SET`` (and Snowflake's) would leave them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sqlfleet.sql.identifiers import qualified_name, quote_identifier, quote_literal

#: Column naming the file a change row came from (``read_parquet``'s ``filename`` option).
FILE_COLUMN = "_sqlfleet_file"
#: Staged column: is the change's key in the target (before the window is applied)?
HIT_COLUMN = "_sqlfleet_hit"
#: The temporary table holding a window's latest change per key; one at a time per connection.
STAGE_TABLE = qualified_name("temp", "main", "_sqlfleet_changes")


def _paths(paths: Sequence[str | Path]) -> str:
    if not paths:
        raise ValueError("read_parquet needs at least one file")
    return "[" + ", ".join(quote_literal(str(p)) for p in paths) + "]"


def _on(key_columns: Sequence[str]) -> str:
    if not key_columns:
        raise ValueError("matching changes to rows needs key columns")
    return " AND ".join(f"t.{quote_identifier(k)} = s.{quote_identifier(k)}" for k in key_columns)


def change_rows_sql(paths: Sequence[str | Path]) -> str:
    """Every change row of the files, with the file it came from in ``FILE_COLUMN``."""
    return f"SELECT * FROM read_parquet({_paths(paths)}, union_by_name = true, filename = {quote_literal(FILE_COLUMN)})"


def latest_changes_sql(
    paths: Sequence[str | Path],
    *,
    key_columns: Sequence[str],
    columns: Sequence[str],
    op_column: str,
    order_by: Sequence[str],
) -> str:
    """The latest change per key: ``op_column`` and ``columns``, ranked by ``order_by`` then file, newest first."""
    if not key_columns:
        raise ValueError("the latest change per key needs key columns")
    q = quote_identifier
    selected = ", ".join(q(c) for c in [op_column, *columns])
    partition = ", ".join(q(k) for k in key_columns)
    order = ", ".join(f"{q(c)} DESC" for c in [*order_by, FILE_COLUMN])
    return (
        f"SELECT {selected} FROM ({change_rows_sql(paths)}) "
        f"QUALIFY ROW_NUMBER() OVER (PARTITION BY {partition} ORDER BY {order}) = 1"
    )


def stage_changes_sql(
    schema: str,
    table: str,
    source: str,
    *,
    key_columns: Sequence[str],
    absent: Sequence[tuple[str, str]] = (),
) -> str:
    """Stage ``source`` (a latest-changes query) with ``HIT_COLUMN``: is its key in ``schema.table``?

    ``absent`` are ``(name, type)`` target columns the files lack, staged as NULLs for
    ``stage_absent_columns_sql`` to fill. The statement returns the number of staged changes.
    """
    extra = "".join(f", CAST(NULL AS {sql_type}) AS {quote_identifier(name)}" for name, sql_type in absent)
    return (
        f"CREATE OR REPLACE TEMP TABLE {STAGE_TABLE} AS SELECT s.*{extra}, "
        f"EXISTS (SELECT 1 FROM {qualified_name(schema, table)} AS t WHERE {_on(key_columns)}) "
        f"AS {quote_identifier(HIT_COLUMN)} FROM ({source}) AS s"
    )


def stage_absent_columns_sql(schema: str, table: str, *, key_columns: Sequence[str], absent: Sequence[str]) -> str:
    """Copy the target's values of ``absent`` columns into the staged changes of matched keys."""
    if not absent:
        raise ValueError("no absent column to copy")
    assignments = ", ".join(f"{quote_identifier(c)} = t.{quote_identifier(c)}" for c in absent)
    return (
        f"UPDATE {STAGE_TABLE} AS s SET {assignments} FROM {qualified_name(schema, table)} AS t "
        f"WHERE s.{quote_identifier(HIT_COLUMN)} AND {_on(key_columns)}"
    )


def staged_counts_sql(op_column: str) -> str:
    """``inserted, updated, deleted`` the staged changes will apply: by key found or not, as a MERGE counts.

    A delete of a key the target does not hold applies nothing and counts nothing.
    """
    op = quote_identifier(op_column)
    hit = quote_identifier(HIT_COLUMN)
    return (
        f"SELECT count(*) FILTER (WHERE NOT {hit} AND {op} <> 'D'), "
        f"count(*) FILTER (WHERE {hit} AND {op} <> 'D'), "
        f"count(*) FILTER (WHERE {hit} AND {op} = 'D') FROM {STAGE_TABLE}"
    )


def delete_matched_sql(schema: str, table: str, *, key_columns: Sequence[str]) -> str:
    """Delete every target row whose key has a staged change (updates are re-inserted); returns the count."""
    return f"DELETE FROM {qualified_name(schema, table)} AS t USING {STAGE_TABLE} AS s WHERE {_on(key_columns)}"


def insert_after_images_sql(schema: str, table: str, *, columns: Sequence[str], op_column: str) -> str:
    """Insert the after image of every staged ``I``/``U`` change, by column name; returns the count."""
    if not columns:
        raise ValueError("insert at least one column")
    names = ", ".join(quote_identifier(c) for c in columns)
    return (
        f"INSERT INTO {qualified_name(schema, table)} ({names}) "
        f"SELECT {names} FROM {STAGE_TABLE} WHERE {quote_identifier(op_column)} <> 'D'"
    )


def drop_stage_sql() -> str:
    """Drop the staging table (inside the transaction that applied it)."""
    return f"DROP TABLE IF EXISTS {STAGE_TABLE}"


def create_empty_from_parquet_sql(schema: str, table: str, paths: Sequence[str | Path], columns: Sequence[str]) -> str:
    """``CREATE TABLE IF NOT EXISTS`` with the files' types of ``columns`` and no rows."""
    if not columns:
        raise ValueError("a table needs at least one column")
    names = ", ".join(quote_identifier(c) for c in columns)
    return (
        f"CREATE TABLE IF NOT EXISTS {qualified_name(schema, table)} AS "
        f"SELECT {names} FROM read_parquet({_paths(paths)}, union_by_name = true) LIMIT 0"
    )


def append_changes_sql(schema: str, table: str, paths: Sequence[str | Path], columns: Sequence[str]) -> str:
    """Append every change row (all CDC columns) to an append-only change table, by column name; returns the count."""
    names = ", ".join(quote_identifier(c) for c in columns)
    return (
        f"INSERT INTO {qualified_name(schema, table)} ({names}) "
        f"SELECT {names} FROM read_parquet({_paths(paths)}, union_by_name = true)"
    )

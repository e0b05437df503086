"""Pure builders of the DuckDB statements that apply CDC files (the twin of the Snowflake MERGE).

DuckDB reads the change files directly (``read_parquet(..., union_by_name = true)``, so a window
whose files gained a column reads as one relation) and tags each row with its file, which is
the contract's last tie-breaker. ``MERGE INTO`` has the Snowflake shape: a ``QUALIFY`` subquery
as source, ``DELETE`` / ``UPDATE`` / ``INSERT`` clauses; no ``RETURNING`` and no ``NOT MATCHED
BY SOURCE``, which Snowflake lacks (reference/snowflake.md §4).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sqlfleet.sql.identifiers import qualified_name, quote_identifier, quote_literal

#: Column naming the file a change row came from (``read_parquet``'s ``filename`` option).
FILE_COLUMN = "_sqlfleet_file"
_HIT = "_sqlfleet_hit"


def _paths(paths: Sequence[str | Path]) -> str:
    if not paths:
        raise ValueError("read_parquet needs at least one file")
    return "[" + ", ".join(quote_literal(str(p)) for p in paths) + "]"


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


def change_counts_sql(schema: str, table: str, source: str, *, key_columns: Sequence[str], op_column: str) -> str:
    """``inserted, updated, deleted``: what MERGE-ing ``source`` (a latest-changes query) will apply.

    Counted by target rows matched, as MERGE counts them; a delete of an absent key counts nothing.
    """
    q = quote_identifier
    keys = ", ".join(q(k) for k in key_columns)
    on = " AND ".join(f"t.{q(k)} = s.{q(k)}" for k in key_columns)
    op = f"s.{q(op_column)}"
    hit = f"t.{q(_HIT)}"
    return (
        f"SELECT count(*) FILTER (WHERE {hit} IS NULL AND {op} <> 'D'), "
        f"count(*) FILTER (WHERE {hit} IS NOT NULL AND {op} <> 'D'), "
        f"count(*) FILTER (WHERE {hit} IS NOT NULL AND {op} = 'D') "
        f"FROM ({source}) AS s LEFT JOIN (SELECT 1 AS {q(_HIT)}, {keys} FROM {qualified_name(schema, table)}) AS t "
        f"ON {on}"
    )


def merge_changes_sql(
    schema: str, table: str, source: str, *, key_columns: Sequence[str], columns: Sequence[str], op_column: str
) -> str:
    """MERGE a latest-changes query into the target: ``D`` deletes, ``I``/``U`` upsert the after image."""
    if not key_columns:
        raise ValueError("a merge needs key columns")
    q = quote_identifier
    keys = {k.lower() for k in key_columns}
    op = f"s.{q(op_column)}"
    on = " AND ".join(f"t.{q(k)} = s.{q(k)}" for k in key_columns)
    settable = [c for c in columns if c.lower() not in keys]
    update = f" WHEN MATCHED THEN UPDATE SET {', '.join(f'{q(c)} = s.{q(c)}' for c in settable)}" if settable else ""
    names = ", ".join(q(c) for c in columns)
    values = ", ".join(f"s.{q(c)}" for c in columns)
    return (
        f"MERGE INTO {qualified_name(schema, table)} AS t USING ({source}) AS s ON {on} "
        f"WHEN MATCHED AND {op} = 'D' THEN DELETE{update} "
        f"WHEN NOT MATCHED AND {op} <> 'D' THEN INSERT ({names}) VALUES ({values})"
    )


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
    """Append every change row (all CDC columns) to an append-only change table, by column name."""
    names = ", ".join(quote_identifier(c) for c in columns)
    return (
        f"INSERT INTO {qualified_name(schema, table)} ({names}) "
        f"SELECT {names} FROM read_parquet({_paths(paths)}, union_by_name = true)"
    )

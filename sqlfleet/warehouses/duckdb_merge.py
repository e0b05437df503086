"""Applying a window of CDC files to a DuckDB target: the DuckDB half of ``merge_changes``.

Runs inside the warehouse's transaction and lock (``DuckDBWarehouse.merge_changes``): the
target's schema is evolved like a full load's, the latest change per key is merged, and one
manifest row per file is written, so the changes and the record that they were applied commit
together. The counts of what the MERGE will apply are taken first from the same snapshot and
checked against the MERGE's own total.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import duckdb

from sqlfleet.errors import WarehouseError
from sqlfleet.lake import LakeObject
from sqlfleet.schema_diff import ChangeColumns, change_columns, diff_columns
from sqlfleet.sql import duckdb as sql
from sqlfleet.sql import duckdb_changes as changes_sql
from sqlfleet.verify import VerifiedTable
from sqlfleet.warehouses.base import Applied

ManifestRow = Callable[[str, int, int, str], tuple[object, ...]]


def _scalar(con: duckdb.DuckDBPyConnection, statement: str) -> int:
    row = con.execute(statement).fetchone()
    return int(row[0]) if row is not None else 0


def _evolve(
    con: duckdb.DuckDBPyConnection,
    database: str,
    target: str,
    paths: Sequence[Path],
    columns: Sequence[tuple[str, str]],
) -> tuple[str, ...]:
    """Create the target from the files' types, or add the columns it lacks; notes of what changed."""
    exists = _scalar(con, sql.table_exists_sql(database, target)) > 0
    if not exists:
        con.execute(changes_sql.create_empty_from_parquet_sql(database, target, paths, [n for n, _ in columns]))
        return ()
    table_columns = [(r[0], r[1]) for r in con.execute(sql.describe_columns_sql(database, target)).fetchall()]
    diff = diff_columns(table_columns, columns, lambda a, b: a.upper() == b.upper())
    diff.raise_on_type_change(f"{database}.{target}")
    for name, sql_type in diff.added:
        con.execute(sql.add_column_sql(database, target, name, sql_type))
    return diff.notes(f"{database}.{target}")


def apply_change_files(
    con: duckdb.DuckDBPyConnection,
    *,
    database: str,
    table: VerifiedTable,
    target: str,
    pending: Sequence[LakeObject],
    paths: Sequence[Path],
    key_columns: Sequence[str],
    timestamp_column: str,
    change_seq_column: str,
    manifest_row: ManifestRow,
) -> Applied:
    """Merge (or, without keys, append) the ``pending`` change files read from ``paths``."""
    what = f"{database}.{target}"
    described = con.execute(sql.describe_parquet_sql(paths, union_by_name=True)).fetchall()
    layout: ChangeColumns = change_columns(
        [(r[0], r[1]) for r in described],
        timestamp_column=timestamp_column,
        change_seq_column=change_seq_column,
        key_columns=key_columns,
        what=what,
    )
    con.execute(sql.create_schema_sql(database))
    per_file = {str(name): int(rows) for name, rows in con.execute(sql.file_rows_sql(paths)).fetchall()}
    file_rows = [per_file[str(p)] for p in paths]
    if key_columns:
        notes = _evolve(con, database, target, paths, layout.target)
        columns = [n for n, _ in layout.target]
        previous = _scalar(con, sql.count_rows_sql(database, target))
        source = changes_sql.latest_changes_sql(
            paths,
            key_columns=layout.keys,
            columns=columns,
            op_column=layout.op,
            order_by=[layout.change_seq, layout.timestamp],
        )
        counted = con.execute(
            changes_sql.change_counts_sql(database, target, source, key_columns=layout.keys, op_column=layout.op)
        ).fetchone()
        inserted, updated, deleted = (int(v) for v in counted) if counted else (0, 0, 0)
        merged = con.execute(
            changes_sql.merge_changes_sql(
                database, target, source, key_columns=layout.keys, columns=columns, op_column=layout.op
            )
        ).fetchone()
        total = int(merged[0]) if merged else 0
        if total != inserted + updated + deleted:
            raise WarehouseError(
                f"{what}: the MERGE changed {total} rows but {inserted} inserts, {updated} updates and "
                f"{deleted} deletes were expected (duplicate keys in the target?)"
            )
        status = "merged"
    else:
        notes = _evolve(con, database, target, paths, layout.all)
        notes += (f"{what}: the source table has no key; its changes are appended, not merged",)
        previous = _scalar(con, sql.count_rows_sql(database, target))
        con.execute(changes_sql.append_changes_sql(database, target, paths, [n for n, _ in layout.all]))
        inserted, updated, deleted = sum(file_rows), 0, 0
        status = "appended"
    rows = _scalar(con, sql.count_rows_sql(database, target))
    manifest = [manifest_row(obj.key, obj.size, n, status) for obj, n in zip(pending, file_rows, strict=True)]
    con.execute(sql.insert_manifest_sql(len(manifest)), [value for row in manifest for value in row])
    return Applied(
        "loaded",
        rows,
        notes=notes,
        inserted=inserted,
        updated=updated,
        deleted=deleted,
        previous_rows=previous,
    )

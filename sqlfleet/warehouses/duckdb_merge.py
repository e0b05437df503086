"""Applying a window of CDC files to a DuckDB target: the DuckDB half of ``merge_changes``.

Runs inside the warehouse's transaction and lock (``DuckDBWarehouse.merge_changes``): the
target's schema is evolved like a full load's, the latest change per key is applied, and one
manifest row per file is written, so the changes and the record that they were applied commit
together. The window's files are read once, into a staging table of the latest change per key
that also says whether the key is in the target; the applied inserts, updates and deletes are
counted from it and checked against what the DELETE and INSERT report (how and why the changes
are applied as DELETE + INSERT rather than a MERGE: ``sqlfleet.sql.duckdb_changes``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import duckdb

from sqlfleet.errors import WarehouseError
from sqlfleet.lake import LakeObject
from sqlfleet.schema_diff import ChangeColumns, SchemaDiff, change_columns, diff_columns
from sqlfleet.sql import duckdb as sql
from sqlfleet.sql import duckdb_changes as changes_sql
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
) -> tuple[tuple[str, ...], list[tuple[str, str]]]:
    """Create the target from the files' types, or add the columns it lacks.

    Returns the notes of what changed and the ``(name, type)`` target columns the files lack.
    """
    if _scalar(con, sql.table_exists_sql(database, target)) == 0:
        con.execute(changes_sql.create_empty_from_parquet_sql(database, target, paths, [n for n, _ in columns]))
        return (), []
    table_columns = [(r[0], r[1]) for r in con.execute(sql.describe_columns_sql(database, target)).fetchall()]
    diff = diff_columns(table_columns, columns, lambda a, b: a.upper() == b.upper())
    diff.raise_on_type_change(f"{database}.{target}")
    for name, sql_type in diff.added:
        con.execute(sql.add_column_sql(database, target, name, sql_type))
    absent = [(name, sql_type) for name, sql_type in table_columns if name in diff.absent]
    what = f"{database}.{target}"
    notes = SchemaDiff(added=diff.added).notes(what)
    notes += tuple(
        f"{what}: column {n!r} is not in the change files; updated rows keep it, new rows get NULL" for n, _ in absent
    )
    return notes, absent


def _merge(
    con: duckdb.DuckDBPyConnection, database: str, target: str, paths: Sequence[Path], layout: ChangeColumns
) -> Applied:
    """Stage the latest change per key once, then delete the matched keys and insert the after images."""
    what = f"{database}.{target}"
    notes, absent = _evolve(con, database, target, paths, layout.target)
    columns = [n for n, _ in layout.target]
    previous = _scalar(con, sql.count_rows_sql(database, target))
    latest = changes_sql.latest_changes_sql(
        paths,
        key_columns=layout.keys,
        columns=columns,
        op_column=layout.op,
        order_by=[layout.change_seq, layout.timestamp],
    )
    con.execute(changes_sql.stage_changes_sql(database, target, latest, key_columns=layout.keys, absent=absent))
    if absent:
        absent_names = [n for n, _ in absent]
        con.execute(
            changes_sql.stage_absent_columns_sql(database, target, key_columns=layout.keys, absent=absent_names)
        )
        columns += absent_names
    counted = con.execute(changes_sql.staged_counts_sql(layout.op)).fetchone()
    inserted, updated, deleted = (int(v) for v in counted) if counted else (0, 0, 0)
    removed = _scalar(con, changes_sql.delete_matched_sql(database, target, key_columns=layout.keys))
    if removed != updated + deleted:
        raise WarehouseError(
            f"{what}: {updated + deleted} changed keys are in the table but {removed} rows hold them "
            "(duplicate keys in the target?)"
        )
    added = _scalar(con, changes_sql.insert_after_images_sql(database, target, columns=columns, op_column=layout.op))
    if added != inserted + updated:
        raise WarehouseError(f"{what}: inserted {added} after images, {inserted} inserts + {updated} updates staged")
    con.execute(changes_sql.drop_stage_sql())
    # Exact without a count(*): this transaction is the file's only writer, and both numbers are
    # DuckDB's own counts of the rows its DELETE and INSERT touched.
    rows = previous - removed + added
    return Applied(
        "loaded", rows, notes=notes, inserted=inserted, updated=updated, deleted=deleted, previous_rows=previous
    )


def _append(
    con: duckdb.DuckDBPyConnection,
    database: str,
    target: str,
    paths: Sequence[Path],
    layout: ChangeColumns,
    *,
    rows: int,
) -> Applied:
    """Append every change row to the append-only change table of a table without a key."""
    what = f"{database}.{target}"
    notes, _ = _evolve(con, database, target, paths, layout.all)
    notes += (f"{what}: the source table has no key; its changes are appended, not merged",)
    previous = _scalar(con, sql.count_rows_sql(database, target))
    added = _scalar(con, changes_sql.append_changes_sql(database, target, paths, [n for n, _ in layout.all]))
    if added != rows:
        raise WarehouseError(f"{what}: appended {added} change rows, the file footers hold {rows}")
    return Applied("loaded", previous + added, notes=notes, inserted=added, previous_rows=previous)


def apply_change_files(
    con: duckdb.DuckDBPyConnection,
    *,
    database: str,
    target: str,
    pending: Sequence[LakeObject],
    paths: Sequence[Path],
    key_columns: Sequence[str],
    timestamp_column: str,
    change_seq_column: str,
    manifest_row: ManifestRow,
    create_schema: bool = True,
) -> Applied:
    """Merge (or, without keys, append) the ``pending`` change files read from ``paths``.

    ``create_schema``: whether the database's schema may not exist yet.
    """
    what = f"{database}.{target}"
    described = con.execute(sql.describe_parquet_sql(paths, union_by_name=True)).fetchall()
    layout: ChangeColumns = change_columns(
        [(r[0], r[1]) for r in described],
        timestamp_column=timestamp_column,
        change_seq_column=change_seq_column,
        key_columns=key_columns,
        what=what,
    )
    if create_schema:
        con.execute(sql.create_schema_sql(database))
    per_file = {str(name): int(rows) for name, rows in con.execute(sql.file_rows_sql(paths)).fetchall()}
    file_rows = [per_file[str(p)] for p in paths]
    if key_columns:
        applied = _merge(con, database, target, paths, layout)
        status = "merged"
    else:
        applied = _append(con, database, target, paths, layout, rows=sum(file_rows))
        status = "appended"
    manifest = [manifest_row(obj.key, obj.size, n, status) for obj, n in zip(pending, file_rows, strict=True)]
    con.execute(sql.insert_manifest_sql(len(manifest)), [value for row in manifest for value in row])
    return applied

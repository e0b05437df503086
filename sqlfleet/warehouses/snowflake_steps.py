"""The steps a Snowflake load runs on its session: footers to columns, the target's DDL, staging.

Split from ``sqlfleet.warehouses.snowflake`` (which strings them together into full loads and
merges); each step takes the session it runs on and commits what must be committed before the
load's own transaction, because Snowflake commits an open transaction before any DDL.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import pyarrow as pa

from sqlfleet import layout
from sqlfleet.errors import LakeError, SqlfleetError, WarehouseError
from sqlfleet.lake import Footer, Lake, LakeObject
from sqlfleet.schema_diff import diff_columns
from sqlfleet.sql import snowflake as sql
from sqlfleet.sql.bookkeeping import BOOKKEEPING_SCHEMA
from sqlfleet.warehouses.snowflake_session import Session

Column = tuple[str, str]


def footers(lake: Lake, files: Sequence[LakeObject]) -> list[Footer]:
    """Footers of ``files`` in order; the first unreadable one raises its ``LakeError``."""
    read = lake.read_footers([f.key for f in files])
    found = []
    for obj in files:
        footer = read[obj.key]
        if isinstance(footer, LakeError):
            raise footer
        found.append(footer)
    return found


def snowflake_columns(schema: pa.Schema, *, exclude: set[str], what: str) -> list[Column]:
    """``(name, Snowflake type)`` of a Parquet schema's fields, minus ``exclude``."""
    columns = []
    for arrow_field in schema:
        if arrow_field.name in exclude:
            continue
        try:
            columns.append((arrow_field.name, sql.snowflake_type(arrow_field.type)))
        except ValueError as exc:
            raise WarehouseError(f"{what}: column {arrow_field.name!r}: {exc}") from exc
    return columns


def prepare_target(
    s: Session, database: str, schema: str, target: str, columns: Sequence[Column]
) -> tuple[list[Column], tuple[str, ...]]:
    """DDL: the target exists with every file column; its columns (declared types) and the notes.

    A column the files gained is added; a column whose type changed raises ``WarehouseError``
    before anything is written.
    """
    s.execute(sql.create_schema_sql(database, schema))
    s.execute(sql.create_table_sql(database, schema, target, columns))
    described = s.execute(sql.table_columns_sql(database, schema, target))
    existing = [(r[0], sql.canonical_type(r[1], r[2], r[3])) for r in described]
    incoming = [(n, sql.canonical_type(t)) for n, t in columns]
    diff = diff_columns(existing, incoming, lambda a, b: a == b)
    diff.raise_on_type_change(f"{schema}.{target}")
    declared = dict(columns)
    for name, _ in diff.added:
        s.execute(sql.add_column_sql(database, schema, target, name, declared[name]))
    s.commit()
    return existing + [(n, declared[n]) for n, _ in diff.added], diff.notes(f"{schema}.{target}")


def stage_files(
    s: Session,
    stage: tuple[str, str, str],
    scratch: str,
    columns: Sequence[Column],
    files: Sequence[LakeObject],
    *,
    tag_batches: bool,
) -> int:
    """Rebuild the scratch table and COPY the files into it (``FILES`` batches); the rows staged.

    With ``tag_batches`` each COPY's rows get its batch ordinal, the merge's last tie-breaker.
    """
    database = stage[0]
    s.execute(sql.replace_scratch_table_sql(database, scratch, columns))
    s.commit()
    by_folder: dict[str, list[str]] = {}
    for obj in files:
        parsed = layout.parse_key(obj.key)
        if parsed is None:
            raise WarehouseError(f"{obj.key!r} is not a DMS data file key")
        folder = layout.table_prefix(parsed.database, parsed.schema_name, parsed.table)
        by_folder.setdefault(folder, []).append(obj.key[len(folder) :])
    ordinal = 0
    for folder, names in by_folder.items():
        for batch in sql.copy_batches(names):
            ordinal += 1
            s.execute(sql.copy_into_sql(database, BOOKKEEPING_SCHEMA, scratch, stage=stage, folder=folder, files=batch))
            if tag_batches:
                s.execute(sql.tag_copy_batch_sql(database, scratch, ordinal))
    s.commit()
    return s.scalar(sql.count_rows_sql(database, BOOKKEEPING_SCHEMA, scratch))


def drop_scratch(s: Session, database: str, scratch: str) -> None:
    """Drop a scratch table (DDL: call it only with no transaction open)."""
    s.execute(sql.drop_scratch_table_sql(database, scratch))
    s.commit()


def abandon(s: Session, database: str, scratch: str) -> None:
    """Roll back, THEN drop the scratch table: a DROP (DDL) would commit the open transaction."""
    with contextlib.suppress(SqlfleetError):
        s.rollback()
        drop_scratch(s, database, scratch)

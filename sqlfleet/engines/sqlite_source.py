"""Reading a SQLite source the way DMS reads SQL Server: typed, streamed, one snapshot per table.

SQLite types values per row, so fast Arrow readers guess a column's type from its first values
and fail (or mis-type) on NULLs and mixed storage (reference/extraction.md §5). The fix used here
is the "pinned SELECT": one row of typed dummy literals ``UNION ALL`` the real rows, so the
reader's inferred type is fixed, then a cast per batch to the target type from the declared
SQL Server type. The dummy row is dropped with a zero-copy slice.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import adbc_driver_sqlite.dbapi as adbc_sqlite
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict

from sqlfleet.errors import SourceError, TransientError
from sqlfleet.sourcetypes import ColumnType, SourceKind, column_type
from sqlfleet.sql.identifiers import quote_identifier

# What each conversion kind selects, and the dummy literal that pins the reader's type.
_DUMMY: dict[SourceKind, str] = {
    "integer": "0",
    "boolean": "0",
    "float": "0.5",
    "decimal": "''",
    "text": "''",
    "datetime": "''",
    "date": "''",
    "time": "''",
    "binary": "X''",
}
_DECIMAL_WORK = pa.decimal256(76, 38)


class SourceTable(BaseModel):
    """A table or view of a source database with its typed columns."""

    model_config = ConfigDict(frozen=True)

    schema_name: str
    name: str
    is_view: bool
    columns: tuple[ColumnType, ...]


def _connect_ro(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise SourceError(f"source database {path} does not exist")
    try:
        return sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise SourceError(f"cannot open source database {path}: {exc}") from exc


def list_source_tables(path: Path, default_schema: str, include_views: bool = True) -> list[SourceTable]:
    """Every user table (and view, unless ``include_views`` is false) of a SQLite file with its
    columns, in name order. Typing a view's computed columns runs the view, so callers that
    replicate no view (CDC) leave them out."""
    con = _connect_ro(path)
    kinds = "'table', 'view'" if include_views else "'table'"
    try:
        rows = con.execute(
            f"SELECT name, type FROM sqlite_master WHERE type IN ({kinds}) "
            # change capture keeps its tables under a `cdc.` prefix (sqlfleet.cdc.sqlite_capture)
            "AND name NOT LIKE 'sqlite[_]%' ESCAPE '[' AND name NOT LIKE 'cdc.%' ORDER BY name"
        ).fetchall()
        tables = []
        for name, kind in rows:
            info = con.execute(f"PRAGMA table_info({quote_identifier(name)})").fetchall()
            columns = []
            for _cid, col, declared, notnull, _default, _pk in info:
                hint = None
                if not (declared or "").strip():
                    found = con.execute(
                        f"SELECT typeof({quote_identifier(col)}) FROM {quote_identifier(name)} "
                        f"WHERE {quote_identifier(col)} IS NOT NULL LIMIT 1"
                    ).fetchone()
                    hint = found[0] if found else None
                columns.append(column_type(col, declared or "", nullable=not notnull, storage_hint=hint))
            tables.append(
                SourceTable(schema_name=default_schema, name=name, is_view=kind == "view", columns=tuple(columns))
            )
        return tables
    except sqlite3.DatabaseError as exc:
        raise SourceError(f"cannot read the schema of {path}: {exc}") from exc
    finally:
        con.close()


def _select_expression(col: ColumnType) -> str:
    q = quote_identifier(col.name)
    if col.kind == "float":
        # An INTEGER-stored value in a REAL column would change the reader's type mid-stream.
        return f"CASE typeof({q}) WHEN 'integer' THEN CAST({q} AS REAL) ELSE {q} END"
    if col.kind in {"decimal", "text", "datetime", "date", "time"}:
        # Decimals go through text: SQLite keeps integers exactly, and REALs print round-trip.
        return f"CAST({q} AS TEXT)"
    if col.kind == "binary":
        return f"CAST({q} AS BLOB)"
    return q


def pinned_select_sql(table: SourceTable, suffix: str = "") -> str:
    """The pinned SELECT of a table: a typed dummy row, then every real row.

    ``suffix`` (a ``WHERE``/``ORDER BY`` the caller built from quoted identifiers) filters the rows.
    """
    if not table.columns:
        raise SourceError(f"{table.name!r} has no columns")
    dummy = ", ".join(f"{_DUMMY[c.kind]} AS {quote_identifier(c.name)}" for c in table.columns)
    real = ", ".join(_select_expression(c) for c in table.columns)
    where = f" {suffix}" if suffix else ""
    return f"SELECT {dummy} UNION ALL SELECT * FROM (SELECT {real} FROM {quote_identifier(table.name)}{where})"


def convert_column(array: pa.Array, col: ColumnType) -> pa.Array:
    """Cast one column read by the pinned SELECT to its target Arrow type (raises on bad data)."""
    target = col.arrow_type
    if col.kind == "boolean":
        return pc.not_equal(array.cast(pa.int64()), 0)
    if col.kind == "decimal":
        assert isinstance(target, pa.Decimal128Type)
        wide = array.cast(_DECIMAL_WORK)
        return pc.round(wide, ndigits=target.scale, round_mode="half_to_even").cast(target)
    if col.kind == "datetime":
        return pc.utf8_slice_codeunits(array, 0, 26).cast(target)
    if col.kind == "date":
        return pc.utf8_slice_codeunits(array, 0, 10).cast(target)
    if col.kind == "time":
        stamped = pc.binary_join_element_wise("1970-01-01 ", pc.utf8_slice_codeunits(array, 0, 15), "")
        return stamped.cast(pa.timestamp("us")).cast(target)
    return array.cast(target)


def read_table_batches(
    path: Path,
    table: SourceTable,
    batch_rows: int,
    suffix: str = "",
    *,
    on_count: Callable[[int], None] | None = None,
) -> Iterator[pa.RecordBatch]:
    """Stream a table as record batches of its target schema (memory bounded by ``batch_rows``).

    The whole table is read by one SELECT, so it comes from one consistent snapshot; ``suffix``
    is passed to ``pinned_select_sql``. ``on_count`` receives the source's ``count(*)`` (with the
    same ``suffix``) taken first in the same read transaction, so both see the same snapshot:
    the reconciliation ledger's source rows.
    """
    schema = pa.schema([pa.field(c.name, c.arrow_type) for c in table.columns])
    sql = pinned_select_sql(table, suffix)
    try:
        conn = adbc_sqlite.connect(f"file:{path}?mode=ro")
    except Exception as exc:
        raise SourceError(f"cannot open source database {path}: {exc}") from exc
    try:
        cursor = conn.cursor()
        if on_count is not None:
            # ADBC runs with autocommit off: this count and the SELECT share one transaction.
            where = f" {suffix}" if suffix else ""
            cursor.execute(f"SELECT count(*) FROM (SELECT 1 FROM {quote_identifier(table.name)}{where})")
            counted = cursor.fetchone()
            on_count(int(counted[0]) if counted else 0)
        cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(batch_rows)})
        cursor.execute(sql)
        reader = cursor.fetch_record_batch()
        first = True
        for raw in reader:
            batch = raw.slice(1) if first else raw
            first = False
            if batch.num_rows == 0:
                continue
            arrays = [convert_column(batch.column(i), col) for i, col in enumerate(table.columns)]
            yield pa.RecordBatch.from_arrays(arrays, schema=schema)
        cursor.close()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        raise SourceError(f"{table.schema_name}.{table.name}: a value does not fit its declared type: {exc}") from exc
    except Exception as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise TransientError(f"{path}: {exc}") from exc
        if isinstance(exc, SourceError):
            raise
        raise SourceError(f"reading {table.schema_name}.{table.name} from {path}: {exc}") from exc
    finally:
        conn.close()


def count_source_rows(path: Path, table: SourceTable) -> int:
    """``SELECT count(*)`` of one table or view."""
    con = _connect_ro(path)
    try:
        return int(con.execute(f"SELECT count(*) FROM {quote_identifier(table.name)}").fetchone()[0])
    finally:
        con.close()


__all__ = [
    "SourceTable",
    "convert_column",
    "count_source_rows",
    "list_source_tables",
    "pinned_select_sql",
    "read_table_batches",
]

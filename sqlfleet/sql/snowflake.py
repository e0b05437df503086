"""Pure builders of every Snowflake statement sqlfleet runs (golden-tested, parsed by sqlglot).

Every identifier goes through ``quote_identifier`` and is fully qualified
(``"database"."schema"."table"``); string values go through ``string_literal``, which also
escapes backslashes because Snowflake reads ``\\`` as an escape inside single quotes. The few
statements with values that are data (manifest and ledger rows) use ``?`` placeholders: the
connection uses ``paramstyle="qmark"`` (server-side binding, batched by ``executemany``).

The statements stay inside what both Snowflake and fakesnow run (reference/snowflake.md §5.2):
``FILE_FORMAT = (TYPE = PARQUET ...)`` written in every COPY, explicit ``FILES`` lists of at most
1,000 names, ``MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE``, ``ON_ERROR = ABORT_STATEMENT``, tables
created from the Arrow schema rather than ``INFER_SCHEMA``, and ``MERGE`` from a ``QUALIFY``
subquery. ``FORCE = TRUE`` because the manifest, not Snowflake's 64-day load metadata, decides
what is loaded, and a COPY that silently skips a file it "remembers" would load nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from sqlfleet.sql.bookkeeping import (
    BOOKKEEPING_SCHEMA,
    LEDGER_COLUMNS,
    LEDGER_TABLE,
    MANIFEST_COLUMNS,
    MANIFEST_TABLE,
    ColumnKind,
    ManifestKind,
    column_list,
    columns_ddl,
)
from sqlfleet.sql.identifiers import qualified_name, quote_identifier

#: Snowflake's limit on the ``FILES`` list of one COPY.
MAX_COPY_FILES = 1000

#: The Parquet format of every COPY. ``BINARY_AS_TEXT`` defaults to TRUE, which reads a column
#: without a logical type (DMS ``binary``/``varbinary``, Arrow ``binary``) as UTF-8 text; strings
#: carry the STRING logical type, so FALSE changes nothing else (reference/snowflake.md §1.2).
PARQUET_OPTIONS = "TYPE = PARQUET BINARY_AS_TEXT = FALSE"

#: Column of change staging tables holding the COPY batch a row came from (a tie-breaker).
BATCH_ORDINAL_COLUMN = "_sqlfleet_batch"

TYPES: dict[ColumnKind, str] = {"text": "VARCHAR", "int": "NUMBER(38,0)", "timestamp": "TIMESTAMP_NTZ(6)"}

Column = tuple[str, str]


def string_literal(value: str) -> str:
    """A single-quoted Snowflake string literal (``'`` doubled, ``\\`` escaped)."""
    if "\x00" in value:
        raise ValueError("SQL string literal contains a NUL character")
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


# -- types ---------------------------------------------------------------------------------------


def snowflake_type(arrow_type: pa.DataType) -> str:
    """The Snowflake column type for an Arrow type of a DMS Parquet file.

    Integers of every width are ``NUMBER(38,0)`` (Snowflake's ``INT``); decimals keep precision
    and scale; timestamps without a zone are ``TIMESTAMP_NTZ(6)`` (DMS writes microseconds).
    Raises ``ValueError`` for types DMS does not write.
    """
    if pa.types.is_integer(arrow_type):
        return "NUMBER(38,0)"
    if pa.types.is_decimal(arrow_type):
        assert isinstance(arrow_type, pa.Decimal128Type | pa.Decimal256Type)
        if arrow_type.precision > 38:
            raise ValueError(f"{arrow_type} does not fit Snowflake's NUMBER (precision at most 38)")
        return f"NUMBER({arrow_type.precision},{arrow_type.scale})"
    if pa.types.is_floating(arrow_type):
        return "FLOAT"
    if pa.types.is_boolean(arrow_type):
        return "BOOLEAN"
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "VARCHAR"
    if (
        pa.types.is_binary(arrow_type)
        or pa.types.is_large_binary(arrow_type)
        or pa.types.is_fixed_size_binary(arrow_type)
    ):
        return "BINARY"
    if pa.types.is_timestamp(arrow_type):
        assert isinstance(arrow_type, pa.TimestampType)
        return "TIMESTAMP_NTZ(6)" if arrow_type.tz is None else "TIMESTAMP_TZ(6)"
    if pa.types.is_date(arrow_type):
        return "DATE"
    if pa.types.is_time(arrow_type):
        return "TIME(6)"
    raise ValueError(f"no Snowflake column type for Arrow type {arrow_type}")


def canonical_type(data_type: str, precision: int | None = None, scale: int | None = None) -> str:
    """One spelling per Snowflake type, so a declared type and ``information_schema`` compare.

    ``information_schema.columns`` reports ``TEXT`` for ``VARCHAR`` and ``NUMBER`` with separate
    precision and scale; fractional-second precision is not compared.
    """
    base = data_type.strip().upper()
    args = ""
    if "(" in base:
        base, _, rest = base.partition("(")
        args = rest.rstrip(")").replace(" ", "")
        base = base.strip()
    if base in {"TEXT", "STRING", "CHAR", "CHARACTER"}:
        return "VARCHAR"
    if base in {"NUMBER", "DECIMAL", "NUMERIC"}:
        if precision is not None:
            return f"NUMBER({precision},{scale or 0})"
        digits, _, places = args.partition(",")
        return f"NUMBER({digits or 38},{places or 0})"
    if base in {"INT", "INTEGER", "BIGINT", "SMALLINT", "TINYINT", "BYTEINT"}:
        return "NUMBER(38,0)"
    if base in {"DOUBLE", "DOUBLE PRECISION", "REAL", "FLOAT4", "FLOAT8"}:
        return "FLOAT"
    if base in {"TIMESTAMP", "DATETIME"}:
        return "TIMESTAMP_NTZ"
    if base == "VARBINARY":
        return "BINARY"
    return base


# -- databases, schemas, tables ------------------------------------------------------------------


def create_database_sql(database: str) -> str:
    """``CREATE DATABASE IF NOT EXISTS``."""
    return f"CREATE DATABASE IF NOT EXISTS {quote_identifier(database)}"


def create_schema_sql(database: str, schema: str) -> str:
    """``CREATE SCHEMA IF NOT EXISTS`` in ``database``."""
    return f"CREATE SCHEMA IF NOT EXISTS {qualified_name(database, schema)}"


def create_table_sql(
    database: str, schema: str, table: str, columns: Sequence[Column], *, transient: bool = False
) -> str:
    """``CREATE TABLE IF NOT EXISTS`` with ``(name, type)`` columns (``TRANSIENT``: no fail-safe)."""
    if not columns:
        raise ValueError("a table needs at least one column")
    body = ", ".join(f"{quote_identifier(name)} {sql_type}" for name, sql_type in columns)
    kind = "TRANSIENT TABLE" if transient else "TABLE"
    return f"CREATE {kind} IF NOT EXISTS {qualified_name(database, schema, table)} ({body})"


def replace_scratch_table_sql(database: str, scratch: str, columns: Sequence[Column]) -> str:
    """``CREATE OR REPLACE TRANSIENT TABLE`` in the bookkeeping schema (a scratch table is rebuilt each load)."""
    if not columns:
        raise ValueError("a table needs at least one column")
    body = ", ".join(f"{quote_identifier(name)} {sql_type}" for name, sql_type in columns)
    return f"CREATE OR REPLACE TRANSIENT TABLE {qualified_name(database, BOOKKEEPING_SCHEMA, scratch)} ({body})"


def drop_scratch_table_sql(database: str, scratch: str) -> str:
    """``DROP TABLE IF EXISTS`` of a scratch table."""
    return f"DROP TABLE IF EXISTS {qualified_name(database, BOOKKEEPING_SCHEMA, scratch)}"


def add_column_sql(database: str, schema: str, table: str, column: str, sql_type: str) -> str:
    """``ALTER TABLE ... ADD COLUMN`` (a column the source gained)."""
    return f"ALTER TABLE {qualified_name(database, schema, table)} ADD COLUMN {quote_identifier(column)} {sql_type}"


def table_exists_sql(database: str, schema: str, table: str) -> str:
    """One row: how many tables (0 or 1) are named exactly ``schema.table``."""
    return (
        f"SELECT count(*) FROM {quote_identifier(database)}.information_schema.tables "
        f"WHERE table_schema = {string_literal(schema)} AND table_name = {string_literal(table)}"
    )


def table_columns_sql(database: str, schema: str, table: str) -> str:
    """``column_name, data_type, numeric_precision, numeric_scale`` of one table, in column order."""
    return (
        "SELECT column_name, data_type, numeric_precision, numeric_scale "
        f"FROM {quote_identifier(database)}.information_schema.columns "
        f"WHERE table_schema = {string_literal(schema)} AND table_name = {string_literal(table)} "
        "ORDER BY ordinal_position"
    )


def count_rows_sql(database: str, schema: str, table: str) -> str:
    """``SELECT count(*)`` of one table."""
    return f"SELECT count(*) FROM {qualified_name(database, schema, table)}"


# -- loading ---------------------------------------------------------------------------------------


def copy_batches(names: Sequence[str]) -> list[list[str]]:
    """``names`` split into COPY ``FILES`` lists of at most ``MAX_COPY_FILES``, in order."""
    return [list(names[i : i + MAX_COPY_FILES]) for i in range(0, len(names), MAX_COPY_FILES)]


def copy_into_sql(
    database: str, schema: str, table: str, *, stage: tuple[str, str, str], folder: str, files: Sequence[str]
) -> str:
    """COPY named Parquet files below ``folder`` of an external stage into a table.

    ``stage`` is ``(database, schema, name)``; ``folder`` is a lake prefix (``db/schema/table/``)
    and ``files`` are paths relative to it. The location is one quoted string because lake keys
    hold source names verbatim (spaces, quotes).
    """
    if not files:
        raise ValueError("COPY needs at least one file")
    if len(files) > MAX_COPY_FILES:
        raise ValueError(f"COPY takes at most {MAX_COPY_FILES} files, got {len(files)}")
    location = string_literal(f"@{qualified_name(*stage)}/{folder}")
    names = ", ".join(string_literal(f) for f in files)
    return (
        f"COPY INTO {qualified_name(database, schema, table)} FROM {location} FILES = ({names}) "
        f"FILE_FORMAT = ({PARQUET_OPTIONS}) MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE "
        "ON_ERROR = ABORT_STATEMENT FORCE = TRUE"
    )


def tag_copy_batch_sql(database: str, scratch: str, ordinal: int) -> str:
    """Stamp the rows the last COPY added to a change staging table with its batch ordinal."""
    column = quote_identifier(BATCH_ORDINAL_COLUMN)
    return (
        f"UPDATE {qualified_name(database, BOOKKEEPING_SCHEMA, scratch)} SET {column} = {int(ordinal)} "
        f"WHERE {column} IS NULL"
    )


def delete_rows_sql(database: str, schema: str, table: str) -> str:
    """Delete every row of one table (inside the load's transaction)."""
    return f"DELETE FROM {qualified_name(database, schema, table)}"


def insert_from_scratch_sql(database: str, schema: str, table: str, scratch: str, columns: Sequence[str]) -> str:
    """``INSERT INTO target (cols) SELECT cols FROM`` a scratch table.

    With ``delete_rows_sql`` in one transaction this is the load's swap: ``ALTER TABLE ... SWAP
    WITH`` is DDL, and Snowflake commits the open transaction before any DDL, so a swap could
    never commit together with the manifest rows.
    """
    if not columns:
        raise ValueError("insert at least one column")
    names = ", ".join(quote_identifier(c) for c in columns)
    return (
        f"INSERT INTO {qualified_name(database, schema, table)} ({names}) "
        f"SELECT {names} FROM {qualified_name(database, BOOKKEEPING_SCHEMA, scratch)}"
    )


def merge_changes_sql(
    database: str,
    schema: str,
    table: str,
    scratch: str,
    *,
    key_columns: Sequence[str],
    columns: Sequence[str],
    op_column: str,
    order_by: Sequence[str],
) -> str:
    """MERGE the latest change per key from a change staging table, deleting on ``D``.

    ``columns`` are the target's columns that the changes carry (keys included); ``order_by``
    ranks the changes of one key, newest first (change sequence, commit time, COPY batch). The
    QUALIFY dedupe is required: Snowflake fails a MERGE whose source matches a target row twice
    (reference/snowflake.md §1.7). An ``I`` for an existing key updates it, so a replay is a no-op.
    """
    if not key_columns:
        raise ValueError("a merge needs key columns")
    if not order_by:
        raise ValueError("a merge needs an order for the changes of one key")
    keys = {k.lower() for k in key_columns}
    missing = [k for k in key_columns if k.lower() not in {c.lower() for c in columns}]
    if missing:
        raise ValueError(f"key columns {missing} are not among the columns")
    q = quote_identifier
    op = q(op_column)
    selected = ", ".join(q(c) for c in [op_column, *columns])
    partition = ", ".join(q(k) for k in key_columns)
    order = ", ".join(f"{q(c)} DESC" for c in order_by)
    on = " AND ".join(f"t.{q(k)} = s.{q(k)}" for k in key_columns)
    settable = [c for c in columns if c.lower() not in keys]
    names = ", ".join(q(c) for c in columns)
    values = ", ".join(f"s.{q(c)}" for c in columns)
    update = f" WHEN MATCHED THEN UPDATE SET {', '.join(f'{q(c)} = s.{q(c)}' for c in settable)}" if settable else ""
    return (
        f"MERGE INTO {qualified_name(database, schema, table)} AS t USING ("
        f"SELECT {selected} FROM {qualified_name(database, BOOKKEEPING_SCHEMA, scratch)} "
        f"QUALIFY ROW_NUMBER() OVER (PARTITION BY {partition} ORDER BY {order}) = 1) AS s ON {on} "
        f"WHEN MATCHED AND s.{op} = 'D' THEN DELETE{update} "
        f"WHEN NOT MATCHED AND s.{op} <> 'D' THEN INSERT ({names}) VALUES ({values})"
    )


# -- manifest and ledger ------------------------------------------------------------------------------


def _bookkeeping(database: str, table: str) -> str:
    return qualified_name(database, BOOKKEEPING_SCHEMA, table)


def _where_target(source_database: str, target: str, kind: ManifestKind) -> str:
    return (
        f"{quote_identifier('database')} = {string_literal(source_database)} "
        f"AND {quote_identifier('target')} = {string_literal(target)} "
        f"AND {quote_identifier('kind')} = {string_literal(kind)}"
    )


def create_bookkeeping_sql(database: str) -> list[str]:
    """The bookkeeping schema, the load manifest and the reconciliation ledger (idempotent)."""
    return [
        create_schema_sql(database, BOOKKEEPING_SCHEMA),
        f"CREATE TABLE IF NOT EXISTS {_bookkeeping(database, MANIFEST_TABLE)} ({columns_ddl(MANIFEST_COLUMNS, TYPES)})",
        f"CREATE TABLE IF NOT EXISTS {_bookkeeping(database, LEDGER_TABLE)} ({columns_ddl(LEDGER_COLUMNS, TYPES)})",
    ]


def latest_load_manifest_sql(database: str, source_database: str, target: str) -> str:
    """``file_key, size`` of the target's latest full-load batch (a NULL key: an emptied batch)."""
    where = _where_target(source_database, target, "load")
    batch, loaded_at = quote_identifier("batch_id"), quote_identifier("loaded_at")
    manifest = _bookkeeping(database, MANIFEST_TABLE)
    return (
        f"SELECT {quote_identifier('file_key')}, {quote_identifier('size')} FROM {manifest} WHERE {where} "
        f"AND {batch} = (SELECT {batch} FROM {manifest} WHERE {where} ORDER BY {loaded_at} DESC LIMIT 1)"
    )


def applied_change_files_sql(database: str, source_database: str, target: str) -> str:
    """Keys of the change files already applied to a target."""
    return (
        f"SELECT {quote_identifier('file_key')} FROM {_bookkeeping(database, MANIFEST_TABLE)} "
        f"WHERE {_where_target(source_database, target, 'cdc')}"
    )


def delete_manifest_sql(database: str, source_database: str, target: str, kind: ManifestKind) -> str:
    """Remove a target's manifest rows of one kind (a full load replaces its ``load`` rows)."""
    return f"DELETE FROM {_bookkeeping(database, MANIFEST_TABLE)} WHERE {_where_target(source_database, target, kind)}"


def insert_manifest_sql(database: str) -> str:
    """Parameterised insert of one manifest row (``MANIFEST_COLUMNS`` order)."""
    marks = ", ".join("?" for _ in MANIFEST_COLUMNS)
    return f"INSERT INTO {_bookkeeping(database, MANIFEST_TABLE)} ({column_list(MANIFEST_COLUMNS)}) VALUES ({marks})"


def manifest_rows_sql(database: str, source_database: str) -> str:
    """Every manifest row of one source database, by target, kind and file key."""
    return (
        f"SELECT {column_list(MANIFEST_COLUMNS)} FROM {_bookkeeping(database, MANIFEST_TABLE)} "
        f"WHERE {quote_identifier('database')} = {string_literal(source_database)} "
        f"ORDER BY {quote_identifier('target')}, {quote_identifier('kind')}, {quote_identifier('file_key')} NULLS FIRST"
    )


def insert_ledger_sql(database: str) -> str:
    """Parameterised insert of one ledger entry (``LEDGER_COLUMNS`` order)."""
    marks = ", ".join("?" for _ in LEDGER_COLUMNS)
    return f"INSERT INTO {_bookkeeping(database, LEDGER_TABLE)} ({column_list(LEDGER_COLUMNS)}) VALUES ({marks})"


def ledger_rows_sql(database: str) -> str:
    """Every ledger entry, oldest first."""
    order = ", ".join(quote_identifier(c) for c in ("recorded_at", "database", "target"))
    return f"SELECT {column_list(LEDGER_COLUMNS)} FROM {_bookkeeping(database, LEDGER_TABLE)} ORDER BY {order}"


def select_rows_sql(database: str, schema: str, table: str, columns: Sequence[str]) -> str:
    """Every row of ``columns`` (in that order) of one table."""
    if not columns:
        raise ValueError("select at least one column")
    return f"SELECT {', '.join(quote_identifier(c) for c in columns)} FROM {qualified_name(database, schema, table)}"

"""Change capture in a SQLite source, modelled on SQL Server's MS-CDC and kept by triggers.

Enabling capture does what ``sys.sp_cdc_enable_db`` and ``sys.sp_cdc_enable_table`` do on SQL
Server. SQLite has no schemas, so the capture objects are tables whose names start with ``cdc.``
(the replication engine and the demo check skip them like SQL Server's ``cdc`` schema):

- ``cdc.lsn_time_mapping(start_lsn, tran_end_time)``: one row per change position and its commit
  time (``sys.fn_cdc_map_lsn_to_time``);
- ``cdc.change_tables``, ``cdc.captured_columns``, ``cdc.index_columns``: which tables are captured
  (one *capture instance* each, named ``<schema>_<table>``), from which LSN, with which columns and
  key;
- ``cdc.<capture_instance>_CT``: the change table, ``__$start_lsn``, ``__$seqval``,
  ``__$operation`` (1 delete, 2 insert, 3 before update, 4 after update), ``__$update_mask``,
  then the captured columns with their declared types.

A trigger gives no transaction identity, so every row change gets its own LSN (a SQL Server
transaction's changes share one, ordered by ``__$seqval``); ``__$seqval`` equals the LSN here. An
update that changes a key column is captured as a delete and an insert, as MS-CDC captures a
split update, so a consumer never keeps the row under its old key. LSNs are assigned inside the
writer's transaction and SQLite has one writer at a time, so a reader always sees a gap-free
prefix of them; commit times never decrease with the LSN, so the change sequence sorts like it.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from sqlfleet.errors import SourceError, TransientError
from sqlfleet.sql.identifiers import quote_identifier as q
from sqlfleet.sql.identifiers import quote_literal

#: SQLite has no ``cdc`` schema: capture objects are the tables whose names start with this.
CAPTURE_PREFIX = "cdc."
LSN_MAPPING = "cdc.lsn_time_mapping"
CHANGE_TABLES = "cdc.change_tables"
CAPTURED_COLUMNS = "cdc.captured_columns"
INDEX_COLUMNS = "cdc.index_columns"
START_LSN, SEQVAL, OPERATION, UPDATE_MASK = "__$start_lsn", "__$seqval", "__$operation", "__$update_mask"
META_COLUMNS = (START_LSN, SEQVAL, OPERATION, UPDATE_MASK)
OP_DELETE, OP_INSERT, OP_BEFORE_UPDATE, OP_AFTER_UPDATE = 1, 2, 3, 4
#: Commit times as SQLite writes them (UTC, milliseconds).
_NOW = "strftime('%Y-%m-%d %H:%M:%f', 'now')"


class CaptureInstance(BaseModel):
    """One captured table: its change table, captured columns and key, and the first LSN captured."""

    model_config = ConfigDict(frozen=True)

    name: str
    source_table: str
    change_table: str
    start_lsn: int
    columns: tuple[str, ...]
    key_columns: tuple[str, ...]


class CaptureState(BaseModel):
    """What a source's capture looks like at one moment: enabled or not, its instances, its latest LSN."""

    model_config = ConfigDict(frozen=True)

    enabled: bool
    max_lsn: int = 0
    instances: dict[str, CaptureInstance] = {}

    def instance_for(self, table: str) -> CaptureInstance | None:
        """The capture instance of source table ``table``, if it is captured."""
        return self.instances.get(table)


class EnableResult(BaseModel):
    """What enabling capture changed on one source."""

    model_config = ConfigDict(frozen=True)

    database_enabled: bool
    enabled: tuple[str, ...]
    already: tuple[str, ...]


def is_capture_object(name: str) -> bool:
    """Whether a SQLite table, view or trigger name belongs to the capture (``cdc.`` prefix)."""
    return name.startswith(CAPTURE_PREFIX)


def capture_instance_name(schema: str, table: str) -> str:
    """MS-CDC's default capture instance name: ``<schema>_<table>``."""
    return f"{schema}_{table}"


def change_table_name(instance: str) -> str:
    """``cdc.<capture_instance>_CT``."""
    return f"{CAPTURE_PREFIX}{instance}_CT"


# -- DDL (pure) ---------------------------------------------------------------------------------


def enable_database_sql() -> list[str]:
    """The metadata tables ``sp_cdc_enable_db`` creates; idempotent (``IF NOT EXISTS``)."""
    return [
        f"CREATE TABLE IF NOT EXISTS {q(LSN_MAPPING)} (start_lsn INTEGER PRIMARY KEY, tran_end_time TEXT NOT NULL)",
        f"CREATE TABLE IF NOT EXISTS {q(CHANGE_TABLES)} (capture_instance TEXT PRIMARY KEY, "
        "source_table TEXT NOT NULL UNIQUE, start_lsn INTEGER NOT NULL, create_date TEXT NOT NULL)",
        f"CREATE TABLE IF NOT EXISTS {q(CAPTURED_COLUMNS)} (capture_instance TEXT NOT NULL, "
        "column_name TEXT NOT NULL, column_ordinal INTEGER NOT NULL, column_type TEXT NOT NULL, "
        "PRIMARY KEY (capture_instance, column_ordinal))",
        f"CREATE TABLE IF NOT EXISTS {q(INDEX_COLUMNS)} (capture_instance TEXT NOT NULL, "
        "column_name TEXT NOT NULL, index_ordinal INTEGER NOT NULL, PRIMARY KEY (capture_instance, index_ordinal))",
    ]


def _next_lsn_sql() -> str:
    # The latest LSN's time is the largest (times never decrease), read through the primary key.
    latest = f"(SELECT tran_end_time FROM {q(LSN_MAPPING)} ORDER BY start_lsn DESC LIMIT 1)"
    return (
        f"INSERT INTO {q(LSN_MAPPING)} (start_lsn, tran_end_time) VALUES ("
        f"(SELECT coalesce(max(start_lsn), 0) + 1 FROM {q(LSN_MAPPING)}), max({_NOW}, coalesce({latest}, '')));"
    )


def _change_row_sql(change_table: str, columns: Sequence[str], operation: int, image: str) -> str:
    lsn = f"(SELECT max(start_lsn) FROM {q(LSN_MAPPING)})"
    names = ", ".join(q(c) for c in (*META_COLUMNS, *columns))
    values = ", ".join([lsn, lsn, str(operation), "NULL", *(f"{image}.{q(c)}" for c in columns)])
    return f"INSERT INTO {q(change_table)} ({names}) VALUES ({values});"


def enable_table_sql(
    instance: str,
    source_table: str,
    columns: Sequence[tuple[str, str]],
    key_columns: Sequence[str],
    *,
    start_lsn: int,
    created: str,
) -> list[str]:
    """The change table, its triggers and metadata rows for one table (what ``sp_cdc_enable_table`` does).

    ``columns`` are (name, declared type) in table order; ``key_columns`` the primary key (may be
    empty: updates are then always captured as before/after images).
    """
    names = [c for c, _ in columns]
    clash = sorted(set(names) & set(META_COLUMNS))
    if clash:
        raise SourceError(f"{source_table!r} has column(s) named like MS-CDC's own: {clash}")
    ct = change_table_name(instance)
    # The declared type is quoted: SQLite's type grammar rejects e.g. nvarchar(max); affinity is
    # taken from the same text, so captured values are stored exactly as in the source.
    defs = [f"{q(START_LSN)} INTEGER NOT NULL", f"{q(SEQVAL)} INTEGER NOT NULL", f"{q(OPERATION)} INTEGER NOT NULL"]
    defs.append(f"{q(UPDATE_MASK)} BLOB")
    defs += [f"{q(name)} {q(declared) if declared.strip() else ''}".rstrip() for name, declared in columns]
    defs.append(f"PRIMARY KEY ({q(START_LSN)}, {q(SEQVAL)}, {q(OPERATION)})")
    statements = [f"CREATE TABLE {q(ct)} ({', '.join(defs)})"]
    table = q(source_table)

    def trigger(suffix: str, event: str, when: str, body: list[str]) -> str:
        condition = f" WHEN {when}" if when else ""
        return (
            f"CREATE TRIGGER {q(f'{CAPTURE_PREFIX}{instance}_{suffix}')} AFTER {event} ON {table}{condition} "
            f"BEGIN {' '.join(body)} END"
        )

    nxt = _next_lsn_sql()
    statements.append(trigger("ins", "INSERT", "", [nxt, _change_row_sql(ct, names, OP_INSERT, "NEW")]))
    statements.append(trigger("del", "DELETE", "", [nxt, _change_row_sql(ct, names, OP_DELETE, "OLD")]))
    before, after = (
        _change_row_sql(ct, names, OP_BEFORE_UPDATE, "OLD"),
        _change_row_sql(ct, names, OP_AFTER_UPDATE, "NEW"),
    )
    update = [nxt, before, after]
    if key_columns:
        same_key = " AND ".join(f"OLD.{q(k)} IS NEW.{q(k)}" for k in key_columns)
        statements.append(trigger("upd", "UPDATE", same_key, update))
        split = [nxt, _change_row_sql(ct, names, OP_DELETE, "OLD"), nxt, _change_row_sql(ct, names, OP_INSERT, "NEW")]
        statements.append(trigger("updkey", "UPDATE", f"NOT ({same_key})", split))
    else:
        statements.append(trigger("upd", "UPDATE", "", update))
    statements.append(
        f"INSERT INTO {q(CHANGE_TABLES)} (capture_instance, source_table, start_lsn, create_date) VALUES "
        f"({quote_literal(instance)}, {quote_literal(source_table)}, {start_lsn}, {quote_literal(created)})"
    )
    statements += [
        f"INSERT INTO {q(CAPTURED_COLUMNS)} VALUES ({quote_literal(instance)}, {quote_literal(name)}, {i}, "
        f"{quote_literal(declared)})"
        for i, (name, declared) in enumerate(columns, start=1)
    ]
    statements += [
        f"INSERT INTO {q(INDEX_COLUMNS)} VALUES ({quote_literal(instance)}, {quote_literal(k)}, {i})"
        for i, k in enumerate(key_columns, start=1)
    ]
    return statements


# -- I/O ----------------------------------------------------------------------------------------


@contextlib.contextmanager
def _connect(path: Path, *, write: bool) -> Iterator[sqlite3.Connection]:
    if not path.is_file():
        raise SourceError(f"source database {path} does not exist")
    uri = f"{path.resolve().as_uri()}?mode={'rw' if write else 'ro'}"
    try:
        con = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=30)
    except sqlite3.Error as exc:
        raise SourceError(f"cannot open source database {path}: {exc}") from exc
    try:
        yield con
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise TransientError(f"{path}: {exc}") from exc
        raise SourceError(f"{path}: {exc}") from exc
    except sqlite3.DatabaseError as exc:
        raise SourceError(f"{path}: {exc}") from exc
    finally:
        con.close()


def _has_table(con: sqlite3.Connection, name: str) -> bool:
    row = con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone()
    return row is not None


def _max_lsn(con: sqlite3.Connection) -> int:
    return int(con.execute(f"SELECT coalesce(max(start_lsn), 0) FROM {q(LSN_MAPPING)}").fetchone()[0])


def _table_shape(con: sqlite3.Connection, table: str) -> tuple[list[tuple[str, str]], list[str]]:
    info = con.execute(f"PRAGMA table_info({q(table)})").fetchall()
    if not info:
        raise SourceError(f"no table {table!r} in the source")
    columns = [(name, declared or "") for _cid, name, declared, _nn, _default, _pk in info]
    key = [name for _cid, name, _d, _nn, _default, pk in sorted(info, key=lambda r: r[5]) if pk]
    return columns, key


def enable_capture(path: Path, schema: str, tables: Sequence[str], created: datetime) -> EnableResult:
    """Enable capture on ``path`` and on each of ``tables`` not yet captured, in one transaction.

    Idempotent: tables already captured are left as they are and reported in ``already``.
    """
    with _connect(path, write=True) as con:
        con.execute("BEGIN IMMEDIATE")
        try:
            database_enabled = not _has_table(con, LSN_MAPPING)
            for statement in enable_database_sql():
                con.execute(statement)
            captured = {r[0] for r in con.execute(f"SELECT source_table FROM {q(CHANGE_TABLES)}")}
            start = _max_lsn(con)
            enabled, already = [], []
            for table in tables:
                if is_capture_object(table):
                    raise SourceError(f"{table!r} is a capture object, not a source table")
                if table in captured:
                    already.append(table)
                    continue
                columns, key = _table_shape(con, table)
                instance = capture_instance_name(schema, table)
                for statement in enable_table_sql(
                    instance, table, columns, key, start_lsn=start, created=created.isoformat()
                ):
                    con.execute(statement)
                enabled.append(table)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return EnableResult(database_enabled=database_enabled, enabled=tuple(enabled), already=tuple(already))


def read_capture_state(path: Path) -> CaptureState:
    """The capture instances and the latest LSN of a source, read in one snapshot."""
    with _connect(path, write=False) as con:
        con.execute("BEGIN")
        if not _has_table(con, LSN_MAPPING) or not _has_table(con, CHANGE_TABLES):
            return CaptureState(enabled=False)
        max_lsn = _max_lsn(con)
        columns: dict[str, list[str]] = {}
        for instance, name in con.execute(
            f"SELECT capture_instance, column_name FROM {q(CAPTURED_COLUMNS)} ORDER BY capture_instance, column_ordinal"
        ):
            columns.setdefault(instance, []).append(name)
        keys: dict[str, list[str]] = {}
        for instance, name in con.execute(
            f"SELECT capture_instance, column_name FROM {q(INDEX_COLUMNS)} ORDER BY capture_instance, index_ordinal"
        ):
            keys.setdefault(instance, []).append(name)
        instances = {
            table: CaptureInstance(
                name=instance,
                source_table=table,
                change_table=change_table_name(instance),
                start_lsn=int(start),
                columns=tuple(columns.get(instance, ())),
                key_columns=tuple(keys.get(instance, ())),
            )
            for instance, table, start in con.execute(
                f"SELECT capture_instance, source_table, start_lsn FROM {q(CHANGE_TABLES)}"
            )
        }
        con.execute("COMMIT")
    return CaptureState(enabled=True, max_lsn=max_lsn, instances=instances)


def lsn_at_time(path: Path, when: datetime) -> int:
    """The largest LSN committed at or before ``when`` (``sys.fn_cdc_map_time_to_lsn``); 0 if none."""
    bound = when.strftime("%Y-%m-%d %H:%M:%S.%f")
    with _connect(path, write=False) as con:
        # Times never decrease with the LSN: walking back from the newest LSN stops at the answer.
        row = con.execute(
            f"SELECT start_lsn FROM {q(LSN_MAPPING)} WHERE tran_end_time <= ? ORDER BY start_lsn DESC LIMIT 1",
            (bound,),
        ).fetchone()
    return int(row[0]) if row else 0


def tables_with_changes(path: Path, state: CaptureState, after: int, upto: int) -> frozenset[str]:
    """Source tables whose change table holds a change with ``after < LSN <= upto``.

    One connection and one index probe per change table, so an engine reads only the tables
    that changed (a nightly delta usually touches few of them).
    """
    found = set()
    with _connect(path, write=False) as con:
        for table, instance in state.instances.items():
            probe = (
                f"SELECT 1 FROM {q(instance.change_table)} WHERE {q(START_LSN)} > ? AND {q(START_LSN)} <= ? "
                f"AND {q(OPERATION)} <> {OP_BEFORE_UPDATE} LIMIT 1"
            )
            if con.execute(probe, (after, upto)).fetchone() is not None:
                found.add(table)
    return frozenset(found)


def commit_times(path: Path, low: int, high: int) -> dict[int, str]:
    """Commit time (``YYYY-MM-DD HH:MM:SS.fff``) of every LSN in ``[low, high]``."""
    with _connect(path, write=False) as con:
        rows = con.execute(
            f"SELECT start_lsn, tran_end_time FROM {q(LSN_MAPPING)} WHERE start_lsn BETWEEN ? AND ?", (low, high)
        ).fetchall()
    return {int(lsn): str(at) for lsn, at in rows}


__all__ = [
    "CAPTURE_PREFIX",
    "OPERATION",
    "OP_AFTER_UPDATE",
    "OP_BEFORE_UPDATE",
    "OP_DELETE",
    "OP_INSERT",
    "SEQVAL",
    "START_LSN",
    "CaptureInstance",
    "CaptureState",
    "EnableResult",
    "capture_instance_name",
    "change_table_name",
    "commit_times",
    "enable_capture",
    "enable_database_sql",
    "enable_table_sql",
    "is_capture_object",
    "lsn_at_time",
    "read_capture_state",
    "tables_with_changes",
]

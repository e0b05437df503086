"""The embedded warehouse: a DuckDB file, loaded from verified lake files.

One connection per warehouse; a lock serialises its use, so threads loading different tables
never meet in DuckDB's catalog (concurrent DDL on one connection conflicts), while each
statement still runs on all of DuckDB's threads. Every load and every change batch is one
transaction together with its manifest rows, so a reader sees either the previous table and
manifest or the new ones. DuckDB's DDL is transactional, so a full load replaces the table with
``CREATE OR REPLACE TABLE ... AS SELECT`` inside that transaction (the Snowflake adapter gets
the same atomicity from DML, see ``sqlfleet.sql.snowflake``). DuckDB exceptions become the
project's errors in ``_translate`` and nowhere else.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb

from sqlfleet.errors import TransientError, VerificationError, WarehouseError
from sqlfleet.lake import Lake, LakeObject
from sqlfleet.ledger import LedgerEntry
from sqlfleet.schema_diff import diff_columns
from sqlfleet.sourcetypes import OP_COLUMN
from sqlfleet.sql import duckdb as sql
from sqlfleet.sql.bookkeeping import LEDGER_COLUMNS, LEDGER_TABLE, MANIFEST_COLUMNS
from sqlfleet.sql.identifiers import qualified_name
from sqlfleet.verify import VerifiedTable
from sqlfleet.warehouses import duckdb_merge
from sqlfleet.warehouses.base import Applied, LoadJob, WarehouseAdapter
from sqlfleet.warehouses.duckdb_state import Prior, TargetStates
from sqlfleet.warehouses.locks import TargetLocks

#: Folder (next to the warehouse file) where DuckDB keeps extensions instead of ``$HOME``.
EXTENSION_FOLDER = ".duckdb_extensions"


def utc_now() -> datetime:
    """Current UTC time as a naive ``datetime`` (the manifest's ``TIMESTAMP`` has no zone)."""
    return datetime.now(UTC).replace(tzinfo=None)


class DuckDBWarehouse(WarehouseAdapter):
    """A DuckDB warehouse file with a load manifest and a ledger; implements ``Warehouse``."""

    def __init__(
        self,
        path: Path,
        clock: Callable[[], datetime] = utc_now,
        *,
        read_only: bool = False,
        timestamp_column: str = "_dms_ts",
        change_seq_column: str = "_dms_change_seq",
        lock_timeout_seconds: float = 3600.0,
    ) -> None:
        self.path = Path(path)
        self._clock = clock
        self._lock = threading.Lock()
        self._targets = TargetLocks(lock_timeout_seconds)
        # Schemas known to exist (committed), so a load skips its CREATE SCHEMA IF NOT EXISTS.
        self._schemas: set[str] = set()
        self._created_schemas: set[str] = set()
        self._states = TargetStates()
        self.timestamp_column = timestamp_column
        self.change_seq_column = change_seq_column
        extensions = self.path.parent / EXTENSION_FOLDER
        try:
            if not read_only:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._con = duckdb.connect(
                str(self.path), read_only=read_only, config={"extension_directory": str(extensions)}
            )
            if not read_only:
                for statement in sql.create_manifest_sql():
                    self._con.execute(statement)
        except duckdb.Error as exc:
            raise _translate(exc, f"opening the warehouse {self.path}") from exc

    def __enter__(self) -> DuckDBWarehouse:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            self._con.close()

    def query(self, statement: str, parameters: Sequence[object] | None = None) -> list[tuple[Any, ...]]:
        """Run one statement and return its rows (for reports, checks and tests)."""
        with self._lock:
            self._states.forget()  # the statement may change tables or the manifest
            try:
                return self._con.execute(statement, parameters).fetchall()
            except duckdb.Error as exc:
                raise _translate(exc, f"querying {self.path}") from exc

    def row_count(self, database: str, target: str) -> int | None:
        """Rows in ``database.target``; ``None`` when the table does not exist."""
        with self._lock:
            try:
                if not self._exists(database, target):
                    return None
                return self._scalar(sql.count_rows_sql(database, target))
            except duckdb.Error as exc:
                raise _translate(exc, f"counting {database}.{target} in {self.path}") from exc

    def manifest_rows(self, database: str) -> list[dict[str, Any]]:
        """Every manifest row of one database, as dicts keyed by manifest column."""
        names = [name for name, _ in MANIFEST_COLUMNS]
        return [dict(zip(names, row, strict=True)) for row in self.query(sql.manifest_rows_sql(database))]

    def ledger_rows(self) -> list[dict[str, Any]]:
        """Every reconciliation ledger entry, oldest first."""
        names = [name for name, _ in LEDGER_COLUMNS]
        columns = ", ".join(qualified_name(n) for n in names)
        ledger = qualified_name(sql.MANIFEST_SCHEMA, LEDGER_TABLE)
        rows = self.query(f"SELECT {columns} FROM {ledger} ORDER BY recorded_at, database, target")
        return [dict(zip(names, row, strict=True)) for row in rows]

    def record_ledger(self, entries: Sequence[LedgerEntry]) -> None:
        """Append ledger entries, in one transaction."""
        if entries:
            self._transaction("recording the reconciliation ledger", lambda: self._insert_ledger(entries))

    def _where(self, database: str, target: str) -> str:
        return f"{database}.{target} in {self.path}"

    def _replace(self, job: LoadJob, lake: Lake) -> Applied:
        """Replace ``database.<target>`` with the verified files of one table, in one transaction.

        A batch whose (file key, size) set equals the target's latest full-load batch is
        ``unchanged`` and nothing is rewritten. A column new in the files is added (and noted);
        a column whose type changed fails the load (``WarehouseError``, nothing applied).
        Raises ``TransientError`` for lock and write conflicts, ``VerificationError`` when the
        loaded rows differ from the footers, and ``WarehouseError`` otherwise; the previous
        table and manifest are intact after any error.
        """
        database, table, target, batch_id, doing = job.database, job.table, job.target, job.batch_id, job.doing
        # Checked before downloading, so a rerun of a loaded batch costs no transfer; the
        # target's lock keeps what it found true until the load's transaction.
        with self._lock:
            try:
                prior = self._states.prior(self._con, database, target, [(f.key, f.size) for f in table.files])
            except duckdb.Error as exc:
                raise _translate(exc, doing) from exc
        if prior.unchanged_rows is not None:
            return Applied("unchanged", prior.unchanged_rows)
        if not table.files:
            applied = self._transaction(doing, lambda: self._load_empty(database, table, target, batch_id, prior))
            with self._lock:  # emptied: one manifest row without a file; skipped: no rows at all
                self._states.remember(database, target, prior.exists, set() if prior.exists else None)
            return applied
        with lake.local_copies([f.key for f in table.files]) as paths:
            applied = self._transaction(
                doing, lambda: self._load_files(database, table, target, batch_id, paths=paths, prior=prior)
            )
        with self._lock:
            self._states.remember(database, target, True, {(f.key, f.size) for f in table.files})
        return applied

    def _merge(self, job: LoadJob, lake: Lake, key_columns: Sequence[str]) -> tuple[Applied, Sequence[LakeObject]]:
        database, table, target, batch_id, doing = job.database, job.table, job.target, job.batch_id, job.doing
        with self._lock:
            try:
                pending = self._pending_change_files(database, target, table)
                if not pending:
                    exists = self._states.exists(self._con, database, target)
                    rows = self._scalar(sql.count_rows_sql(database, target)) if exists else 0
                    return Applied("unchanged", rows), pending
            except duckdb.Error as exc:
                raise _translate(exc, doing) from exc

        def apply(paths: Sequence[Path]) -> Applied:
            create_schema = database not in self._schemas
            if create_schema:
                self._created_schemas.add(database)
            return duckdb_merge.apply_change_files(
                self._con,
                database=database,
                target=target,
                pending=pending,
                paths=paths,
                key_columns=key_columns,
                timestamp_column=self.timestamp_column,
                change_seq_column=self.change_seq_column,
                create_schema=create_schema,
                manifest_row=lambda key, size, rows, status: self._manifest_row(
                    database=database,
                    table=table,
                    target=target,
                    batch_id=batch_id,
                    key=key,
                    size=size,
                    rows=rows,
                    status=status,
                    kind="cdc",
                ),
            )

        with lake.local_copies([f.key for f in pending]) as paths:
            applied = self._transaction(doing, lambda: apply(paths))
        with self._lock:
            self._states.remember(database, target, True, None)
        return applied, pending

    # -- inside the lock -------------------------------------------------------------------

    def _pending_change_files(self, database: str, target: str, table: VerifiedTable) -> list[LakeObject]:
        """The window's change files not applied to the target yet (no query for an empty window)."""
        if not table.files:
            return []
        done = {r[0] for r in self._con.execute(sql.applied_change_files_sql(database, target)).fetchall()}
        return [f for f in table.files if f.key not in done]

    def _scalar(self, statement: str) -> int:
        row = self._con.execute(statement).fetchone()
        return int(row[0]) if row is not None else 0

    def _exists(self, database: str, target: str) -> bool:
        return self._scalar(sql.table_exists_sql(database, target)) > 0

    def _transaction(self, doing: str, body: Callable[[], Applied]) -> Applied:
        with self._lock:
            try:
                self._created_schemas.clear()
                self._con.execute("BEGIN TRANSACTION")
                result = body()
                self._con.execute("COMMIT")
                self._schemas.update(self._created_schemas)
                return result
            except BaseException as exc:
                # No transaction may be open any more (DuckDB aborted it, or BEGIN failed).
                with contextlib.suppress(duckdb.Error):
                    self._con.execute("ROLLBACK")
                if isinstance(exc, duckdb.Error):
                    raise _translate(exc, doing) from exc
                raise

    def _load_empty(self, database: str, table: VerifiedTable, target: str, batch_id: str, prior: Prior) -> Applied:
        self._con.execute(sql.create_schema_sql(database))
        self._con.execute(sql.delete_manifest_sql(database, target))
        if not prior.exists:
            return Applied("skipped_empty", 0)
        self._con.execute(sql.delete_rows_sql(database, target))
        # A row without a file key records the emptied batch, so a rerun is "unchanged".
        self._insert_manifest(
            [
                self._manifest_row(
                    database=database,
                    table=table,
                    target=target,
                    batch_id=batch_id,
                    key=None,
                    size=0,
                    rows=0,
                    status="emptied",
                )
            ]
        )
        return Applied("emptied", 0)

    def _load_files(
        self, database: str, table: VerifiedTable, target: str, batch_id: str, *, paths: Sequence[Path], prior: Prior
    ) -> Applied:
        if database not in self._schemas:
            self._con.execute(sql.create_schema_sql(database))
            self._created_schemas.add(database)
        keep: list[tuple[str, str]] = []
        notes: tuple[str, ...] = ()
        if prior.exists:
            described = self._con.execute(sql.describe_parquet_sql(paths)).fetchall()
            file_columns = [(r[0], r[1]) for r in described if r[0] != OP_COLUMN]
            table_columns = [
                (r[0], r[1]) for r in self._con.execute(sql.describe_columns_sql(database, target)).fetchall()
            ]
            diff = diff_columns(table_columns, file_columns, lambda a, b: a.upper() == b.upper())
            diff.raise_on_type_change(f"{database}.{target}")
            keep = [(name, sql_type) for name, sql_type in table_columns if name in diff.absent]
            notes = diff.notes(f"{database}.{target}")
        # CREATE TABLE ... AS returns the rows it wrote: no count(*) scan of the new table.
        loaded = self._scalar(sql.replace_table_from_parquet_sql(database, target, paths, [OP_COLUMN], keep))
        if loaded != table.footer_rows:
            raise VerificationError(
                [
                    f"{database}.{target}: read {loaded} rows from {len(paths)} file(s) but the "
                    f"verified footers hold {table.footer_rows}; the files changed after verification"
                ]
            )
        if len(paths) == 1:
            per_file = {str(paths[0]): loaded}
        else:
            per_file = dict(self._con.execute(sql.file_rows_sql(paths)).fetchall())
        if prior.manifest:
            self._con.execute(sql.delete_manifest_sql(database, target))
        self._insert_manifest(
            [
                self._manifest_row(
                    database=database,
                    table=table,
                    target=target,
                    batch_id=batch_id,
                    key=obj.key,
                    size=obj.size,
                    rows=int(per_file[str(path)]),
                    status="loaded",
                )
                for obj, path in zip(table.files, paths, strict=True)
            ]
        )
        return Applied("loaded", loaded, notes=notes)

    def _manifest_row(
        self,
        *,
        database: str,
        table: VerifiedTable,
        target: str,
        batch_id: str,
        key: str | None,
        size: int,
        rows: int,
        status: str,
        kind: str = "load",
    ) -> tuple[object, ...]:
        now = self._now()
        return (database, table.schema_name, table.table, target, key, size, rows, batch_id, now, status, kind)

    def _now(self) -> datetime:
        now = self._clock()
        return now.astimezone(UTC).replace(tzinfo=None) if now.tzinfo is not None else now

    def _insert_manifest(self, rows: list[tuple[object, ...]]) -> None:
        # One multi-row INSERT: executemany costs a round trip per row.
        self._con.execute(sql.insert_manifest_sql(len(rows)), [value for row in rows for value in row])

    def _insert_ledger(self, entries: Sequence[LedgerEntry]) -> Applied:
        self._con.executemany(sql.insert_ledger_sql(), [e.as_row() for e in entries])
        return Applied("loaded", len(entries))


_TRANSIENT_MARKERS = ("Conflict", "Could not set lock on file")


def _translate(exc: duckdb.Error, doing: str) -> TransientError | WarehouseError:
    """The one place DuckDB exceptions become the project's errors."""
    text = str(exc)
    if isinstance(exc, duckdb.TransactionException) or any(m in text for m in _TRANSIENT_MARKERS):
        return TransientError(f"{doing}: {text} (retry once the other writer is done)")
    return WarehouseError(f"{doing}: {text}")

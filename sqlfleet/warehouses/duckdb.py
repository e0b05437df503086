"""The embedded warehouse: a DuckDB file, loaded from verified lake files.

One connection per warehouse; a lock serialises its use, so threads loading different tables
never meet in DuckDB's catalog (concurrent DDL on one connection conflicts), while each
statement still runs on all of DuckDB's threads. Every load is one transaction together with
its manifest rows, so a reader sees either the previous table and manifest or the new ones.
DuckDB exceptions become the project's errors in ``_translate`` and nowhere else.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb

from sqlfleet.errors import TransientError, VerificationError, WarehouseError
from sqlfleet.lake import Lake
from sqlfleet.sourcetypes import OP_COLUMN
from sqlfleet.sql import duckdb as sql
from sqlfleet.verify import VerifiedTable
from sqlfleet.warehouses.base import LoadedTable, LoadStatus, target_table_name

#: Folder (next to the warehouse file) where DuckDB keeps extensions instead of ``$HOME``.
EXTENSION_FOLDER = ".duckdb_extensions"


def utc_now() -> datetime:
    """Current UTC time as a naive ``datetime`` (the manifest's ``TIMESTAMP`` has no zone)."""
    return datetime.now(UTC).replace(tzinfo=None)


class DuckDBWarehouse:
    """A DuckDB warehouse file with a load manifest; implements ``Warehouse``."""

    def __init__(
        self,
        path: Path,
        clock: Callable[[], datetime] = utc_now,
        *,
        read_only: bool = False,
    ) -> None:
        self.path = Path(path)
        self._clock = clock
        self._lock = threading.Lock()
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
        names = [name for name, _ in sql.MANIFEST_COLUMNS]
        return [dict(zip(names, row, strict=True)) for row in self.query(sql.manifest_rows_sql(database))]

    def load_full(
        self, database: str, table: VerifiedTable, lake: Lake, batch_id: str, default_schema: str = "dbo"
    ) -> LoadedTable:
        """Replace ``database.<target>`` with the verified files of one table, in one transaction.

        A batch whose (file key, size) set equals the target's latest manifest batch is
        ``unchanged`` and nothing is rewritten. Raises ``TransientError`` for lock and write
        conflicts, ``VerificationError`` when the loaded rows differ from the footers, and
        ``WarehouseError`` otherwise; the previous table and manifest are intact after any error.
        """
        started = time.perf_counter()
        target = target_table_name(table.schema_name, table.table, default_schema)
        doing = f"loading {table.name} into {database}.{target} in {self.path}"

        def outcome(status: LoadStatus, rows: int) -> LoadedTable:
            return LoadedTable(
                schema_name=table.schema_name,
                table=table.table,
                target=target,
                rows=rows,
                files=len(table.files) if status in {"loaded", "unchanged"} else 0,
                bytes=table.bytes if status in {"loaded", "unchanged"} else 0,
                status=status,
                seconds=time.perf_counter() - started,
            )

        # Checked before downloading, so a rerun of a loaded batch costs no transfer.
        with self._lock:
            try:
                rows = self._unchanged_rows(database, target, table)
            except duckdb.Error as exc:
                raise _translate(exc, doing) from exc
        if rows is not None:
            return outcome("unchanged", rows)
        if not table.files:
            status, rows = self._transaction(doing, lambda: self._load_empty(database, table, target, batch_id))
            return outcome(status, rows)
        keys = [f.key for f in table.files]
        with lake.local_copies(keys) as paths:
            status, rows = self._transaction(doing, lambda: self._load_files(database, table, target, batch_id, paths))
        return outcome(status, rows)

    # -- inside the lock -------------------------------------------------------------------

    def _scalar(self, statement: str) -> int:
        row = self._con.execute(statement).fetchone()
        return int(row[0]) if row is not None else 0

    def _exists(self, database: str, target: str) -> bool:
        return self._scalar(sql.table_exists_sql(database, target)) > 0

    def _unchanged_rows(self, database: str, target: str, table: VerifiedTable) -> int | None:
        """Row count of the target when the batch is already loaded, else ``None``."""
        if not self._exists(database, target):
            return None
        latest = self._con.execute(sql.latest_manifest_sql(database, target)).fetchall()
        if not latest:
            return None
        loaded = {(key, size) for key, size in latest if key is not None}
        if loaded != {(f.key, f.size) for f in table.files}:
            return None
        return self._scalar(sql.count_rows_sql(database, target))

    def _transaction(self, doing: str, body: Callable[[], tuple[LoadStatus, int]]) -> tuple[LoadStatus, int]:
        with self._lock:
            try:
                self._con.execute("BEGIN TRANSACTION")
                result = body()
                self._con.execute("COMMIT")
                return result
            except BaseException as exc:
                # No transaction may be open any more (DuckDB aborted it, or BEGIN failed).
                with contextlib.suppress(duckdb.Error):
                    self._con.execute("ROLLBACK")
                if isinstance(exc, duckdb.Error):
                    raise _translate(exc, doing) from exc
                raise

    def _load_empty(self, database: str, table: VerifiedTable, target: str, batch_id: str) -> tuple[LoadStatus, int]:
        self._con.execute(sql.create_schema_sql(database))
        if self._unchanged_rows(database, target, table) is not None:
            return "unchanged", 0
        self._con.execute(sql.delete_manifest_sql(database, target))
        if not self._exists(database, target):
            return "skipped_empty", 0
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
        return "emptied", 0

    def _load_files(
        self, database: str, table: VerifiedTable, target: str, batch_id: str, paths: Sequence[Path]
    ) -> tuple[LoadStatus, int]:
        self._con.execute(sql.create_schema_sql(database))
        rows = self._unchanged_rows(database, target, table)
        if rows is not None:  # another thread loaded the same batch while we downloaded
            return "unchanged", rows
        columns = [d[0] for d in self._con.execute(sql.parquet_columns_sql(paths)).description or []]
        exclude = [c for c in columns if c == OP_COLUMN]
        self._con.execute(sql.replace_table_from_parquet_sql(database, target, paths, exclude))
        loaded = self._scalar(sql.count_rows_sql(database, target))
        if loaded != table.footer_rows:
            raise VerificationError(
                [
                    f"{database}.{target}: read {loaded} rows from {len(paths)} file(s) but the "
                    f"verified footers hold {table.footer_rows}; the files changed after verification"
                ]
            )
        per_file = dict(self._con.execute(sql.file_rows_sql(paths)).fetchall())
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
        return "loaded", loaded

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
    ) -> tuple[object, ...]:
        now = self._clock()
        if now.tzinfo is not None:
            now = now.astimezone(UTC).replace(tzinfo=None)
        return (database, table.schema_name, table.table, target, key, size, rows, batch_id, now, status)

    def _insert_manifest(self, rows: list[tuple[object, ...]]) -> None:
        self._con.executemany(sql.insert_manifest_sql(), rows)


_TRANSIENT_MARKERS = ("Conflict", "Could not set lock on file")


def _translate(exc: duckdb.Error, doing: str) -> TransientError | WarehouseError:
    """The one place DuckDB exceptions become the project's errors."""
    text = str(exc)
    if isinstance(exc, duckdb.TransactionException) or any(m in text for m in _TRANSIENT_MARKERS):
        return TransientError(f"{doing}: {text} (retry once the other writer is done)")
    return WarehouseError(f"{doing}: {text}")

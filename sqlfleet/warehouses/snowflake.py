"""The Snowflake warehouse: verified lake files loaded through an external stage, exactly once.

Layout: one Snowflake database (from the warehouse URL), one schema per source database, and
the schema ``_sqlfleet`` holding the stage, the load manifest, the reconciliation ledger and
scratch tables. Every load follows the same three steps on one session:

1. DDL (Snowflake commits it on its own): the target from the Parquet schema, columns the source
   gained, and a transient scratch table with the target's columns;
2. COPY the files into the scratch table (``FILES`` batches of at most 1,000), and check its
   rows against the footers; a COPY that fails midway only dirties the scratch table;
3. one transaction with DML only: replace the target's rows (full load) or MERGE the latest
   change per key (changes), and write the manifest rows; then drop the scratch table.

Readers see the previous table until the commit, and a rerun finds the batch in the manifest.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlfleet.errors import VerificationError, WarehouseError
from sqlfleet.lake import Lake, LakeObject
from sqlfleet.ledger import LedgerEntry
from sqlfleet.schema_diff import change_columns
from sqlfleet.sourcetypes import OP_COLUMN
from sqlfleet.sql import snowflake as sql
from sqlfleet.sql.bookkeeping import BOOKKEEPING_SCHEMA, LEDGER_COLUMNS, MANIFEST_COLUMNS, scratch_table_name
from sqlfleet.verify import VerifiedTable
from sqlfleet.warehouses import snowflake_steps as steps
from sqlfleet.warehouses.base import Applied, LoadJob, WarehouseAdapter
from sqlfleet.warehouses.locks import TargetLocks
from sqlfleet.warehouses.snowflake_session import Session, SessionPool, connect_options

if TYPE_CHECKING:
    from sqlfleet.settings import Settings

Column = tuple[str, str]


def utc_now() -> datetime:
    """Current UTC time without a zone (the bookkeeping columns are ``TIMESTAMP_NTZ``)."""
    return datetime.now(UTC).replace(tzinfo=None)


def _stamp(value: datetime) -> str:
    # Bound as text: qmark binding of a datetime needs a Snowflake type hint, text casts implicitly.
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")


class SnowflakeWarehouse(WarehouseAdapter):
    """A Snowflake database loaded from the lake's external stage; implements ``Warehouse``."""

    def __init__(
        self,
        sessions: SessionPool,
        *,
        database: str,
        stage: str = "lake",
        clock: Callable[[], datetime] = utc_now,
        timestamp_column: str = "_dms_ts",
        change_seq_column: str = "_dms_change_seq",
        lock_timeout_seconds: float = 3600.0,
    ) -> None:
        self.database = database
        self.stage = (database, BOOKKEEPING_SCHEMA, stage)
        self.timestamp_column = timestamp_column
        self.change_seq_column = change_seq_column
        self._sessions = sessions
        self._clock = clock
        self._targets = TargetLocks(lock_timeout_seconds)
        self._bookkeeping_ready = False

    @classmethod
    def from_settings(cls, settings: Settings) -> SnowflakeWarehouse:
        """The warehouse ``SQLFLEET_WAREHOUSE_URL`` names, with a pool of ``warehouse_concurrency`` sessions."""
        import snowflake.connector

        from sqlfleet.warehouse_url import parse_snowflake_url

        target = parse_snowflake_url(settings.warehouse_url)
        options = connect_options(settings, target)
        pool = SessionPool(lambda: snowflake.connector.connect(**options), settings.warehouse_concurrency)
        return cls(
            pool,
            database=target.database,
            stage=settings.snowflake_stage,
            timestamp_column=settings.timestamp_column,
            change_seq_column=settings.change_seq_column,
        )

    def close(self) -> None:
        """Close the pooled connections."""
        self._sessions.close()

    def query(self, statement: str, parameters: Sequence[object] | None = None) -> list[tuple[Any, ...]]:
        """Run one statement and return its rows (for reports, checks and tests)."""
        with self._sessions.session("querying Snowflake") as s:
            rows = s.execute(statement, parameters)
            s.commit()
            return rows

    def row_count(self, database: str, target: str) -> int | None:
        """Rows in the target; ``None`` when it does not exist."""
        with self._sessions.session(f"counting {database}.{target}") as s:
            if not self._exists(s, database, target):
                return None
            return s.scalar(sql.count_rows_sql(self.database, database, target))

    def manifest_rows(self, database: str) -> list[dict[str, Any]]:
        """Every manifest row of one source database, as dicts keyed by manifest column."""
        names = [n for n, _ in MANIFEST_COLUMNS]
        rows = self.query(sql.manifest_rows_sql(self.database, database))
        return [dict(zip(names, row, strict=True)) for row in rows]

    def ledger_rows(self) -> list[dict[str, Any]]:
        """Every reconciliation ledger entry, oldest first."""
        names = [n for n, _ in LEDGER_COLUMNS]
        rows = self.query(sql.ledger_rows_sql(self.database))
        return [dict(zip(names, row, strict=True)) for row in rows]

    def record_ledger(self, entries: Sequence[LedgerEntry]) -> None:
        """Append ledger entries to ``_sqlfleet.reconciliation_ledger``, in one transaction."""
        if not entries:
            return
        with self._sessions.session("recording the reconciliation ledger") as s:
            self._ensure_bookkeeping(s)
            stamp_at = [n for n, _ in LEDGER_COLUMNS].index("recorded_at")
            rows = [
                tuple(_stamp(v) if i == stamp_at and isinstance(v, datetime) else v for i, v in enumerate(e.as_row()))
                for e in entries
            ]
            s.executemany(sql.insert_ledger_sql(self.database), rows)
            s.commit()

    # -- loads -------------------------------------------------------------------------------

    def _where(self, database: str, target: str) -> str:
        return f"{self.database}.{database}.{target}"

    def _replace(self, job: LoadJob, lake: Lake) -> Applied:
        """Replace the target with the verified files of one table (see the module docstring).

        ``unchanged`` when the target's latest full-load batch has exactly these (key, size)
        files. Raises ``TransientError``, ``VerificationError`` (staged rows differ from the
        footers), ``WarehouseError`` (SQL, data, a column type change) or ``LakeError``; the
        previous table and manifest are intact after any error.
        """
        with self._sessions.session(job.doing) as s:
            self._ensure_bookkeeping(s)
            rows = self._unchanged_rows(s, job.database, job.target, job.table)
            if rows is not None:
                return Applied("unchanged", rows)
            if not job.table.files:
                return self._load_empty(s, job)
            return self._load_files(s, job, lake)

    def _merge(self, job: LoadJob, lake: Lake, key_columns: Sequence[str]) -> tuple[Applied, Sequence[LakeObject]]:
        """Apply the window's CDC files not applied yet (see ``Warehouse.merge_changes``).

        Changes of one key are ranked by change sequence, commit timestamp, then COPY batch (the
        file key is not visible per row to a batched COPY; rows equal in change sequence are
        one change delivered twice, so which copy wins does not matter).
        """
        database, target = job.database, job.target
        with self._sessions.session(job.doing) as s:
            self._ensure_bookkeeping(s)
            done = {r[0] for r in s.execute(sql.applied_change_files_sql(self.database, database, target))}
            pending = [f for f in job.table.files if f.key not in done]
            if not pending:
                exists = self._exists(s, database, target)
                rows = s.scalar(sql.count_rows_sql(self.database, database, target)) if exists else 0
                s.commit()
                return Applied("unchanged", rows), pending
            return self._merge_files(s, job, lake, pending, key_columns), pending

    # -- steps (one session) -----------------------------------------------------------------

    def _ensure_bookkeeping(self, s: Session) -> None:
        if not self._bookkeeping_ready:
            for statement in sql.create_bookkeeping_sql(self.database):
                s.execute(statement)
            s.commit()
            self._bookkeeping_ready = True

    def _exists(self, s: Session, database: str, target: str) -> bool:
        return s.scalar(sql.table_exists_sql(self.database, database, target)) > 0

    def _unchanged_rows(self, s: Session, database: str, target: str, table: VerifiedTable) -> int | None:
        if not self._exists(s, database, target):
            return None
        latest = s.execute(sql.latest_load_manifest_sql(self.database, database, target))
        if not latest or {(k, int(n)) for k, n in latest if k is not None} != {(f.key, f.size) for f in table.files}:
            return None
        return s.scalar(sql.count_rows_sql(self.database, database, target))

    def _manifest_row(
        self, job: LoadJob, obj: LakeObject | None, rows: int, status: str, kind: str
    ) -> tuple[object, ...]:
        key, size = (obj.key, obj.size) if obj is not None else (None, 0)
        table, stamp = job.table, _stamp(self._clock())
        return (
            job.database,
            table.schema_name,
            table.table,
            job.target,
            key,
            size,
            rows,
            job.batch_id,
            stamp,
            status,
            kind,
        )

    def _load_empty(self, s: Session, job: LoadJob) -> Applied:
        database, target = job.database, job.target
        if not self._exists(s, database, target):
            s.execute(sql.delete_manifest_sql(self.database, database, target, "load"))
            s.commit()
            return Applied("skipped_empty", 0)
        s.execute(sql.delete_rows_sql(self.database, database, target))
        s.execute(sql.delete_manifest_sql(self.database, database, target, "load"))
        # A row without a file key records the emptied batch, so a rerun is "unchanged".
        row = self._manifest_row(job, None, 0, "emptied", "load")
        s.executemany(sql.insert_manifest_sql(self.database), [row])
        s.commit()
        return Applied("emptied", 0)

    def _load_files(self, s: Session, job: LoadJob, lake: Lake) -> Applied:
        database, table, target, where = job.database, job.table, job.target, job.where
        footers = steps.footers(lake, table.files)
        total = sum(f.rows for f in footers)
        if total != table.footer_rows:
            raise VerificationError(
                [f"{where}: the files hold {total} rows now but {table.footer_rows} when verified; they changed"]
            )
        columns = steps.snowflake_columns(footers[0].schema_, exclude={OP_COLUMN}, what=where)
        target_columns, notes = steps.prepare_target(s, self.database, database, target, columns)
        scratch = scratch_table_name("load", database, target)
        try:
            staged = steps.stage_files(s, self.stage, scratch, target_columns, table.files, tag_batches=False)
            if staged != total:
                raise VerificationError([f"{where}: COPY staged {staged} rows, the footers hold {total}"])
            s.execute(sql.delete_rows_sql(self.database, database, target))
            names = [n for n, _ in target_columns]
            s.execute(sql.insert_from_scratch_sql(self.database, database, target, scratch, names))
            rows = s.scalar(sql.count_rows_sql(self.database, database, target))
            if rows != total:
                raise VerificationError([f"{where}: {rows} rows after the swap, the footers hold {total}"])
            s.execute(sql.delete_manifest_sql(self.database, database, target, "load"))
            manifest = [
                self._manifest_row(job, obj, f.rows, "loaded", "load")
                for obj, f in zip(table.files, footers, strict=True)
            ]
            s.executemany(sql.insert_manifest_sql(self.database), manifest)
            s.commit()
        except BaseException:
            steps.abandon(s, self.database, scratch)
            raise
        steps.drop_scratch(s, self.database, scratch)
        return Applied("loaded", rows, notes=notes)

    def _merge_files(
        self, s: Session, job: LoadJob, lake: Lake, pending: Sequence[LakeObject], key_columns: Sequence[str]
    ) -> Applied:
        database, target, where = job.database, job.target, job.where
        footers = steps.footers(lake, pending)
        union: dict[str, Column] = {}
        for footer in footers:
            for name, sql_type in steps.snowflake_columns(footer.schema_, exclude=set(), what=where):
                known = union.setdefault(name.lower(), (name, sql_type))
                if known[1] != sql_type:
                    raise WarehouseError(
                        f"{where}: column {name!r} is {known[1]} in one CDC file, {sql_type} in another"
                    )
        cols = change_columns(
            list(union.values()),
            timestamp_column=self.timestamp_column,
            change_seq_column=self.change_seq_column,
            key_columns=key_columns,
            what=where,
        )
        _, notes = steps.prepare_target(s, self.database, database, target, cols.target if key_columns else cols.all)
        if not key_columns:
            notes += (f"{where}: the source table has no key; its changes are appended, not merged",)
        scratch = scratch_table_name("cdc", database, target)
        staging = [*cols.all, (sql.BATCH_ORDINAL_COLUMN, "NUMBER(38,0)")]
        total = sum(f.rows for f in footers)
        try:
            staged = steps.stage_files(s, self.stage, scratch, staging, pending, tag_batches=True)
            if staged != total:
                raise VerificationError([f"{where}: COPY staged {staged} change rows, the footers hold {total}"])
            previous = s.scalar(sql.count_rows_sql(self.database, database, target))
            names = [n for n, _ in (cols.target if key_columns else cols.all)]
            if key_columns:
                result = s.execute(
                    sql.merge_changes_sql(
                        self.database,
                        database,
                        target,
                        scratch,
                        key_columns=cols.keys,
                        columns=names,
                        op_column=cols.op,
                        order_by=[cols.change_seq, cols.timestamp, sql.BATCH_ORDINAL_COLUMN],
                    )
                )
                counts = dict(zip(s.columns, result[0], strict=True)) if result else {}
                inserted, updated, deleted = (
                    int(counts.get(f"number of rows {op}", 0)) for op in ("inserted", "updated", "deleted")
                )
                status = "merged"
            else:
                s.execute(sql.insert_from_scratch_sql(self.database, database, target, scratch, names))
                inserted, updated, deleted = total, 0, 0
                status = "appended"
            rows = s.scalar(sql.count_rows_sql(self.database, database, target))
            manifest = [
                self._manifest_row(job, obj, f.rows, status, "cdc") for obj, f in zip(pending, footers, strict=True)
            ]
            s.executemany(sql.insert_manifest_sql(self.database), manifest)
            s.commit()
        except BaseException:
            steps.abandon(s, self.database, scratch)
            raise
        steps.drop_scratch(s, self.database, scratch)
        return Applied(
            "loaded", rows, notes=notes, inserted=inserted, updated=updated, deleted=deleted, previous_rows=previous
        )

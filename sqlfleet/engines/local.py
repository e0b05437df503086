"""The embedded replication engine: SQLite sources to the exact DMS Parquet layout.

It implements ``ReplicationEngine`` with DMS's lifecycle (``ready → starting → running →
stopped`` with ``FULL_LOAD_ONLY_FINISHED``, or ``failed`` with a message) and DMS's per-table
statistics, so everything after replication runs the same code for both engines. The three
migration types:

- ``full-load``: every selected table (and view) as ``LOAD`` files;
- ``full-load-and-cdc``: the source's latest change position is read first, then the full load
  runs, and the task stops before applying cached changes (DMS ``StopTaskCachedChangesNotApplied``:
  ``STOPPED_AFTER_FULL_LOAD``) with that position as its recovery checkpoint, so a delta continues
  from it without a gap (changes made during the load are replayed; the MERGE is idempotent);
- ``cdc``: one bounded window of changes as CDC files (``local_cdc``), stopping at its
  ``CdcStopPosition`` (``STOPPED_AT_SERVER_TIME``) with the window's last LSN as checkpoint.

A task runs in a background thread like a DMS task runs on its instance; callers observe it by
polling. Its state is also written to the lake at every transition (``local_state``), so another
process reads the same statuses and statistics, and a task whose process died is reported failed.

Tables of one task load in parallel up to ``max_full_load_subtasks`` (DMS
``MaxFullLoadSubTasks``), and all tasks of the process share ``workers`` extraction slots, one
per core: extraction is CPU-bound (reference/extraction.md §3) and pyarrow and the ADBC driver
release the GIL, so threads keep both cores busy without a process pool.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from sqlfleet import layout
from sqlfleet.catalog import like_match
from sqlfleet.dms.names import task_identifier
from sqlfleet.engines.base import (
    STOP_AFTER_FULL_LOAD,
    STOP_FULL_LOAD_FINISHED,
    MigrationType,
    StartType,
    TableState,
    TableStatistics,
    TaskRef,
    TaskSpec,
    TaskStatus,
    TaskStatusName,
)
from sqlfleet.engines.local_cdc import ChangeWindow, capture_position, open_change_window, write_cdc_window
from sqlfleet.engines.local_tasks import LocalTask, TaskBook
from sqlfleet.engines.parquet_writer import RollingParquetFiles
from sqlfleet.engines.sqlite_source import SourceTable, list_source_tables, read_table_batches
from sqlfleet.errors import ConfigError, ReplicationError, SqlfleetError
from sqlfleet.lake import Lake
from sqlfleet.limits import LOCAL_INSTANCE
from sqlfleet.settings import path_from_url
from sqlfleet.sourcetypes import OP_COLUMN, dms_file_schema

Clock = Callable[[], datetime]
log = logging.getLogger(__name__)


def _utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def select_tables(spec: TaskSpec, tables: Sequence[SourceTable]) -> list[SourceTable]:
    """The source tables a task's selection rules pick, as DMS selection rules would."""

    def picked(patterns: Sequence[str], name: str) -> bool:
        return any(like_match(p, name) for p in patterns)

    chosen = []
    for t in tables:
        # DMS replicates views in full-load tasks only (reference/dms.md §2).
        if t.is_view and (not spec.include_views or spec.migration_type != "full-load"):
            continue
        if not picked(spec.schemas.include, t.schema_name) or picked(spec.schemas.exclude, t.schema_name):
            continue
        if not picked(spec.tables.include, t.name) or picked(spec.tables.exclude, t.name):
            continue
        chosen.append(t)
    return chosen


class LocalEngine:
    """Embedded ``ReplicationEngine``: reads SQLite, writes DMS-layout Parquet into a ``Lake``."""

    def __init__(
        self,
        lake: Lake,
        *,
        workers: int = 2,
        batch_rows: int = 100_000,
        clock: Clock = _utc_now,
        heartbeat_seconds: float = 60.0,
    ) -> None:
        self.lake = lake
        self.batch_rows = batch_rows
        self.clock = clock
        self.heartbeat_seconds = heartbeat_seconds
        self._slots = threading.BoundedSemaphore(workers)
        self._book = TaskBook(lake, self, clock=clock, heartbeat_seconds=heartbeat_seconds)
        self._lock = self._book.lock
        self._tasks = self._book.tasks
        self._threads: dict[str, threading.Thread] = {}

    # -- ReplicationEngine -------------------------------------------------------------------

    def ensure_task(self, spec: TaskSpec) -> TaskRef:
        """Create the task, reuse it unchanged, or modify it when its spec drifted (task stopped)."""
        if spec.migration_type == "cdc" and spec.cdc_stop_position is None:
            raise ConfigError(f"{spec.database}: a cdc task of the embedded engine needs a cdc_stop_position")
        if spec.migration_type == "full-load-and-cdc" and spec.cdc_stop_position is not None:
            raise ConfigError(
                f"{spec.database}: the embedded engine stops full-load-and-cdc tasks after the full load; "
                "run the changes as a cdc task"
            )
        if not spec.source_url.startswith("sqlite://"):
            raise ConfigError(f"{spec.database}: the embedded engine reads sqlite:// sources, got {spec.source_url!r}")
        identifier = task_identifier(spec.database, spec.migration_type)
        self._book.load(identifier)
        with self._lock:
            task = self._tasks.get(identifier)
            if task is None:
                ref = TaskRef(
                    identifier=identifier,
                    database=spec.database,
                    migration_type=spec.migration_type,
                    arn=f"arn:sqlfleet:local:task:{identifier}",
                )
                self._tasks[identifier] = LocalTask(ref, spec)
                return ref
            if task.spec != spec:
                if task.status not in {"ready", "stopped", "failed"}:
                    # A running task is attached to as it is; as on DMS, CDC positions are start
                    # parameters, not part of the task, so only a changed definition is refused.
                    if _definition(task.spec) != _definition(spec):
                        raise ReplicationError(f"task {identifier} must be stopped before it is modified")
                    return task.ref
                task.spec = spec
            return task.ref

    def find_task(self, database: str, migration_type: MigrationType) -> TaskRef | None:
        """The task of ``database`` and ``migration_type`` if it exists (here or in the lake); creates nothing."""
        identifier = task_identifier(database, migration_type)
        self._book.load(identifier)
        with self._lock:
            task = self._tasks.get(identifier)
            return task.ref if task is not None else None

    def instance_for(self, database: str) -> str:
        """Every task of the embedded engine runs on this machine: instance ``local``."""
        return LOCAL_INSTANCE

    def start_task(self, task: TaskRef, start_type: StartType) -> None:
        """Start a run in the background; ``start-replication`` only on the first run."""
        self._book.refresh([task])
        elsewhere = self._book.observed(task.identifier)
        with self._lock:
            state = self._task(task)
            if elsewhere or state.status not in {"ready", "stopped", "failed"}:
                raise ReplicationError(f"task {task.identifier} cannot be started in status {state.status!r}")
            if start_type == "start-replication" and state.runs > 0:
                raise ReplicationError(
                    f"task {task.identifier} already ran: start it with reload-target or resume-processing"
                )
            if start_type != "start-replication" and state.runs == 0:
                raise ReplicationError(f"task {task.identifier} never ran: start it with start-replication")
            state.runs += 1
            state.status = "starting"
            state.stop_reason = None
            state.failure = None
            state.tables = {}
            state.start_date = self.clock()
            state.stop_date = None
            state.started_monotonic = time.monotonic()
            thread = threading.Thread(
                target=self._run, args=(state,), name=f"sqlfleet-local-{task.identifier}", daemon=True
            )
            self._threads[task.identifier] = thread
        try:
            self._book.persist(state)
        except SqlfleetError as exc:  # nobody else could see or resume this task: do not run it
            self._finish(state, "failed", "Stop Reason FATAL_ERROR", f"its state could not be kept: {exc}")
            raise
        self._book.start_heartbeat()
        thread.start()

    def describe_tasks(self, tasks: Sequence[TaskRef]) -> Mapping[str, TaskStatus]:
        """Status of every given task, in one call (tasks of another process: read from the lake)."""
        self._book.refresh(tasks)
        with self._lock:
            return {t.identifier: self._task(t).snapshot() for t in tasks}

    def table_statistics(self, task: TaskRef) -> Sequence[TableStatistics]:
        """Per-table statistics of the task's latest run, by schema and table name."""
        self._book.refresh([task])
        with self._lock:
            stats = self._task(task).tables
            return [stats[k] for k in sorted(stats)]

    # -- the run -----------------------------------------------------------------------------

    def _task(self, ref: TaskRef) -> LocalTask:
        try:
            return self._tasks[ref.identifier]
        except KeyError:
            raise ReplicationError(f"no such task: {ref.identifier}") from None

    def _set_table(self, task: LocalTask, stats: TableStatistics) -> None:
        with self._lock:
            task.tables[(stats.schema_name, stats.table_name)] = stats

    def _finish(
        self,
        task: LocalTask,
        status: TaskStatusName,
        stop_reason: str | None,
        failure: str | None,
        checkpoint: str | None = None,
    ) -> None:
        stop_date = self.clock()
        elapsed_ms = int((time.monotonic() - task.started_monotonic) * 1000)

        def end(state: LocalTask) -> None:
            if checkpoint is not None:
                state.recovery_checkpoint = checkpoint
            state.status = status
            state.stop_reason = stop_reason
            state.failure = failure
            state.stop_date = stop_date
            state.elapsed_ms = elapsed_ms

        self._book.persist_quietly(task, end)

    def _run(self, task: LocalTask) -> None:
        spec = task.spec
        try:
            path = path_from_url(spec.source_url, "sqlite")
            views = spec.include_views and spec.migration_type == "full-load"
            tables = select_tables(spec, list_source_tables(path, spec.default_schema, include_views=views))
            if not tables:
                # DMS FailOnNoTablesCaptured: a task whose mappings match nothing fails.
                raise ReplicationError("the selection rules match no source table")
            for t in tables:
                self._set_table(
                    task,
                    TableStatistics(schema_name=t.schema_name, table_name=t.name, table_state="Before load"),
                )
            window: ChangeWindow | None = None
            checkpoint: str | None = None
            if spec.migration_type == "cdc":
                window = open_change_window(path, spec.cdc_start_position, spec.cdc_stop_position, self._resume(task))
                checkpoint = window.position
            elif spec.migration_type == "full-load-and-cdc":
                checkpoint = capture_position(path)  # read before any table, so no change is missed
            with self._lock:
                task.status = "running"
            self._book.persist_quietly(task)
            # Largest-first would need row counts; name order is deterministic and the engine's
            # shared slots keep the cores busy across databases anyway.
            with ThreadPoolExecutor(
                max_workers=spec.max_full_load_subtasks, thread_name_prefix=f"sqlfleet-{task.ref.identifier}"
            ) as pool:
                list(pool.map(lambda t: self._load_table(task, path, t, window), tables))
        except SqlfleetError as exc:
            self._finish(task, "failed", "Stop Reason FATAL_ERROR", str(exc))
            return
        except Exception as exc:  # the task must end in a DMS state whatever happened
            self._finish(task, "failed", "Stop Reason FATAL_ERROR", f"{type(exc).__name__}: {exc}")
            return
        stop = {"full-load": STOP_FULL_LOAD_FINISHED, "full-load-and-cdc": STOP_AFTER_FULL_LOAD}
        self._finish(task, "stopped", window.stop_reason if window else stop[spec.migration_type], None, checkpoint)

    def _resume(self, task: LocalTask) -> str | None:
        with self._lock:
            return task.recovery_checkpoint

    def _load_table(self, task: LocalTask, path: Path, table: SourceTable, window: ChangeWindow | None) -> None:
        start = self.clock()
        self._set_table(
            task,
            TableStatistics(
                schema_name=table.schema_name,
                table_name=table.name,
                table_state="Full load",
                full_load_start_time=start,
            ),
        )
        state: TableState = "Table completed"
        error = None
        rows = 0
        counted: list[int] = []
        try:
            with self._slots:
                if window is not None:
                    changes = write_cdc_window(
                        self.lake, task.spec, path, table, window, clock=self.clock, batch_rows=self.batch_rows
                    )
                    self._set_table(task, changes.model_copy(update={"full_load_start_time": start}))
                    return
                rows = self.write_full_load(task.spec, path, table, on_count=counted.append)
        except Exception as exc:
            # DMS TableErrorPolicy=SUSPEND_TABLE: this table errors, the others go on.
            state, error = (
                "Table error",
                f"{type(exc).__name__}: {exc}" if not isinstance(exc, SqlfleetError) else str(exc),
            )
        self._set_table(
            task,
            TableStatistics(
                schema_name=table.schema_name,
                table_name=table.name,
                table_state=state,
                full_load_rows=rows,
                full_load_start_time=start,
                full_load_end_time=self.clock(),
                last_update_time=self.clock(),
                error=error,
                source_rows=counted[0] if counted else None,
            ),
        )

    def write_full_load(
        self, spec: TaskSpec, path: Path, table: SourceTable, *, on_count: Callable[[int], None] | None = None
    ) -> int:
        """Write one table as ``LOAD`` files (``DROP_AND_CREATE``: old files go first); returns rows.

        A new file starts once the current one passes ``max_file_size_kb``; an empty table
        writes nothing, as DMS creates no folder for it. ``on_count`` gets the source's own
        row count, read in the same transaction as the rows (``read_table_batches``).
        """
        prefix = layout.table_prefix(spec.database, table.schema_name, table.name)
        self.lake.delete_prefix(prefix)
        schema = dms_file_schema(list(table.columns), spec.timestamp_column)
        rows = 0
        with RollingParquetFiles(
            self.lake,
            schema,
            spec.max_file_size_kb * 1024,
            lambda started: layout.load_file_key(spec.database, table.schema_name, table.name, started + 1),
        ) as files:
            for batch in read_table_batches(path, table, self.batch_rows, on_count=on_count):
                stamp = self.clock().strftime("%Y-%m-%d %H:%M:%S.%f")
                files.write(_with_dms_columns(batch, schema, stamp))
                rows += batch.num_rows
        return rows


def _definition(spec: TaskSpec) -> TaskSpec:
    """A spec without its CDC positions: what defines the task rather than one run of it."""
    return spec.model_copy(update={"cdc_start_position": None, "cdc_stop_position": None})


def _with_dms_columns(batch: pa.RecordBatch, schema: pa.Schema, stamp: str) -> pa.RecordBatch:
    """Prepend ``Op``=``I`` (``IncludeOpForFullLoad``) and the write timestamp, as DMS does."""
    n = batch.num_rows
    op = pa.repeat(pa.scalar("I", pa.string()), n)
    ts = pa.repeat(pa.scalar(stamp, pa.string()), n)
    return pa.RecordBatch.from_arrays([op, ts, *batch.columns], schema=schema)


__all__ = ["OP_COLUMN", "LocalEngine", "select_tables"]

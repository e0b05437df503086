"""An engine and a warehouse that cost nothing, for measuring orchestration and proving limits.

``InstantEngine`` follows the ``ReplicationEngine`` lifecycle (``ready → running → stopped`` with
DMS's stop reason, ``start-replication`` only on a first run) and reports real statistics: every
selected task has ``tables`` tables, each empty (``FullLoadRows`` 0), so the lake holds nothing to
verify, exactly as DMS writes no folder for an empty table. A task runs for ``duration_seconds``
of wall time (0: it has stopped by the time it is described), computed from the clock rather than
a thread. Every start and stop is recorded, so ``most_running`` is the largest number of tasks
that ever ran at once: the figure a concurrency limit must bound.

``InstantWarehouse`` answers the ``Warehouse`` contract the way DuckDB does for such tables (an
empty table with no table to give it columns is ``skipped_empty``; a table with files is ``loaded``
with its footer rows), keeps the ledger it is given, and touches no storage.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence

from sqlfleet.dms.names import task_identifier
from sqlfleet.engines.base import (
    STOP_FULL_LOAD_FINISHED,
    MigrationType,
    StartType,
    TableStatistics,
    TaskRef,
    TaskSpec,
    TaskStats,
    TaskStatus,
)
from sqlfleet.errors import ConfigError, ReplicationError
from sqlfleet.lake import Lake
from sqlfleet.ledger import LedgerEntry
from sqlfleet.verify import VerifiedTable
from sqlfleet.warehouses.base import LoadedTable, LoadStatus, target_table_name


class InstantEngine:
    """``ReplicationEngine`` whose full loads of empty tables take ``duration_seconds`` each."""

    def __init__(
        self,
        *,
        tables: int = 40,
        duration_seconds: float = 0.0,
        instance: str = "local",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.tables = tables
        self.duration = duration_seconds
        self.instance = instance
        self.clock = clock
        self._lock = threading.Lock()
        self._refs: dict[str, TaskRef] = {}
        self._runs: dict[str, int] = {}
        self._intervals: dict[str, list[tuple[float, float]]] = {}

    def ensure_task(self, spec: TaskSpec) -> TaskRef:
        """Create the task or reuse it (full loads only)."""
        if spec.migration_type != "full-load":
            raise ConfigError(f"{spec.database}: the instant engine runs full loads only")
        identifier = task_identifier(spec.database, spec.migration_type)
        with self._lock:
            return self._refs.setdefault(
                identifier,
                TaskRef(
                    identifier=identifier,
                    database=spec.database,
                    migration_type=spec.migration_type,
                    arn=f"arn:sqlfleet:instant:task:{identifier}",
                ),
            )

    def start_task(self, task: TaskRef, start_type: StartType) -> None:
        """Start a run now; it stops ``duration_seconds`` later."""
        with self._lock:
            runs = self._runs.get(task.identifier, 0)
            if self._running(task.identifier):
                raise ReplicationError(f"task {task.identifier} is running")
            if (start_type == "start-replication") != (runs == 0):
                raise ReplicationError(f"task {task.identifier} cannot {start_type} after {runs} run(s)")
            self._runs[task.identifier] = runs + 1
            now = self.clock()
            self._intervals.setdefault(task.identifier, []).append((now, now + self.duration))

    def describe_tasks(self, tasks: Sequence[TaskRef]) -> Mapping[str, TaskStatus]:
        """``running`` until the run's time is up, then ``stopped`` (``FULL_LOAD_ONLY_FINISHED``)."""
        with self._lock:
            return {t.identifier: self._status(t) for t in tasks}

    def table_statistics(self, task: TaskRef) -> Sequence[TableStatistics]:
        """``tables`` empty tables, completed."""
        return [
            TableStatistics(schema_name="dbo", table_name=f"t{i:03d}", table_state="Table completed", full_load_rows=0)
            for i in range(self.tables)
        ]

    def find_task(self, database: str, migration_type: MigrationType) -> TaskRef | None:
        """The task if it was ensured."""
        with self._lock:
            return self._refs.get(task_identifier(database, migration_type))

    def instance_for(self, database: str) -> str:
        """Every task runs on the one instance the engine was given."""
        return self.instance

    def most_running(self) -> int:
        """The most tasks that ever ran at the same moment (from every recorded start and stop)."""
        with self._lock:
            edges = sorted(
                (moment, step)
                for runs in self._intervals.values()
                for start, stop in runs
                for moment, step in ((start, 1), (stop, -1))
            )
        most = running = 0
        for _, step in edges:  # a stop sorts before a start at the same moment: they do not overlap
            running += step
            most = max(most, running)
        return most

    def starts(self) -> int:
        """How many runs were started."""
        with self._lock:
            return sum(self._runs.values())

    def _running(self, identifier: str) -> bool:
        runs = self._intervals.get(identifier)
        return runs is not None and self.clock() < runs[-1][1]

    def _status(self, task: TaskRef) -> TaskStatus:
        runs = self._intervals.get(task.identifier)
        if not runs:
            return TaskStatus(identifier=task.identifier, arn=task.arn, status="ready")
        start, stop = runs[-1]
        if self.clock() < stop:
            return TaskStatus(identifier=task.identifier, arn=task.arn, status="running")
        return TaskStatus(
            identifier=task.identifier,
            arn=task.arn,
            status="stopped",
            stop_reason=STOP_FULL_LOAD_FINISHED,
            stats=TaskStats(
                full_load_progress_percent=100,
                elapsed_time_millis=int((stop - start) * 1000),
                tables_loaded=self.tables,
            ),
        )


class InstantWarehouse:
    """``Warehouse`` that records loads in memory: full loads only."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.rows: dict[tuple[str, str], int] = {}
        self.ledger: list[LedgerEntry] = []

    def load_full(
        self, database: str, table: VerifiedTable, lake: Lake, batch_id: str, default_schema: str = "dbo"
    ) -> LoadedTable:
        """``loaded`` with the footers' rows, or ``skipped_empty`` for an empty table never loaded."""
        target = target_table_name(table.schema_name, table.table, default_schema)
        with self._lock:
            known = (database, target) in self.rows
            if table.files or known:
                self.rows[(database, target)] = table.footer_rows
        status: LoadStatus = "loaded" if table.files else "emptied" if known else "skipped_empty"
        return LoadedTable(
            schema_name=table.schema_name,
            table=table.table,
            target=target,
            rows=table.footer_rows,
            files=len(table.files),
            bytes=table.bytes,
            status=status,
            seconds=0.0,
        )

    def merge_changes(  # noqa: PLR0917 - the Warehouse contract's signature
        self,
        database: str,
        table: VerifiedTable,
        lake: Lake,
        batch_id: str,
        key_columns: Sequence[str],
        default_schema: str = "dbo",
    ) -> LoadedTable:
        """Not supported: the instant warehouse takes full loads only."""
        raise ConfigError("the instant warehouse takes full loads only")

    def record_ledger(self, entries: Sequence[LedgerEntry]) -> None:
        """Keep the entries."""
        with self._lock:
            self.ledger.extend(entries)

    def row_count(self, database: str, target: str) -> int | None:
        """Rows of a loaded table; ``None`` when it was never loaded."""
        with self._lock:
            return self.rows.get((database, target))

    def close(self) -> None:
        """Nothing to release."""


__all__ = ["InstantEngine", "InstantWarehouse"]

"""The ``ReplicationEngine`` port and the values that cross it, shaped after AWS DMS.

Statuses, stop reasons and table states use DMS's own strings (reference/dms.md §4), so the
embedded engine and the DMS engine are observed and classified by the same code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

MigrationType = Literal["full-load", "cdc", "full-load-and-cdc"]
StartType = Literal["start-replication", "resume-processing", "reload-target"]
TaskStatusName = Literal[
    "creating",
    "ready",
    "starting",
    "running",
    "stopping",
    "stopped",
    "failed",
    "modifying",
    "deleting",
    "testing",
    "moving",
    "failed-move",
]
TableState = Literal[
    "Table does not exist",
    "Before load",
    "Full load",
    "Table completed",
    "Table cancelled",
    "Table error",
    "Table is being reloaded",
]
STOP_FULL_LOAD_FINISHED = "Stop Reason FULL_LOAD_ONLY_FINISHED"
STOP_FATAL_ERROR = "Stop Reason FATAL_ERROR"
STOP_NORMAL = "Stop Reason NORMAL"
STOP_AT_SERVER_TIME = "Stop Reason STOPPED_AT_SERVER_TIME"
STOP_AT_COMMIT_TIME = "Stop Reason STOPPED_AT_COMMIT_TIME"
#: A ``full-load-and-cdc`` task stopped before applying cached changes (``StopTaskCachedChangesNotApplied``).
STOP_AFTER_FULL_LOAD = "Stop Reason STOPPED_AFTER_FULL_LOAD"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SelectionRules(_Frozen):
    """Include/exclude patterns in DMS selection-rule style: ``%`` matches any sequence."""

    include: tuple[str, ...] = ("%",)
    exclude: tuple[str, ...] = ()


class TaskSpec(_Frozen):
    """Everything an engine needs to create (or check) the task of one database and mode.

    Like DMS table mappings, the spec carries selection rules, not a resolved table list: the
    engine matches them against the source when the task runs.
    """

    database: str
    migration_type: MigrationType = "full-load"
    source_url: str
    default_schema: str = "dbo"
    schemas: SelectionRules = SelectionRules()
    tables: SelectionRules = SelectionRules()
    include_views: bool = True
    max_full_load_subtasks: int = Field(default=8, ge=1, le=49)
    max_file_size_kb: int = Field(default=1_048_576, ge=1, le=1_048_576)
    timestamp_column: str = "_dms_ts"
    #: Last column of CDC files: a DMS transformation rule adding ``$AR_H_CHANGE_SEQ`` under this name.
    change_seq_column: str = "_dms_change_seq"
    #: DMS ``CdcStartPosition``: an LSN (``00000014:00000061:0001``), a recovery checkpoint or a date.
    cdc_start_position: str | None = None
    #: DMS ``CdcStopPosition``: ``server_time:<ISO time>`` or ``commit_time:<ISO time>``.
    cdc_stop_position: str | None = None


class TaskRef(_Frozen):
    """Handle of a created task: its identifier and, on DMS, its ARN."""

    identifier: str
    database: str
    migration_type: MigrationType
    arn: str


class TaskStats(_Frozen):
    """``ReplicationTaskStats`` (DMS field names in snake case)."""

    full_load_progress_percent: int = 0
    elapsed_time_millis: int = 0
    tables_loaded: int = 0
    tables_loading: int = 0
    tables_queued: int = 0
    tables_errored: int = 0
    start_date: datetime | None = None
    stop_date: datetime | None = None


class TaskStatus(_Frozen):
    """One entry of ``DescribeReplicationTasks``."""

    identifier: str
    arn: str
    status: TaskStatusName
    stop_reason: str | None = None
    last_failure_message: str | None = None
    stats: TaskStats = TaskStats()
    #: DMS ``RecoveryCheckpoint``: where a CDC task resumes (its changes up to here are written).
    recovery_checkpoint: str | None = None


class TableStatistics(_Frozen):
    """One entry of ``DescribeTableStatistics``."""

    schema_name: str
    table_name: str
    table_state: TableState
    full_load_rows: int = 0
    inserts: int = 0
    updates: int = 0
    deletes: int = 0
    full_load_start_time: datetime | None = None
    full_load_end_time: datetime | None = None
    last_update_time: datetime | None = None
    #: The engine's error for a table in ``Table error`` (DMS reports it in its task log).
    error: str | None = None
    #: Rows the source held at the snapshot the engine read, when the engine can count them
    #: (the embedded engine does, in the same read transaction); ``None`` when unknown (DMS).
    source_rows: int | None = None


@runtime_checkable
class ReplicationEngine(Protocol):
    """What the fleet needs from a replication engine; AWS DMS and the embedded engine implement it."""

    def ensure_task(self, spec: TaskSpec) -> TaskRef:
        """Create the task for ``spec`` or reuse the existing one (idempotent)."""
        ...

    def start_task(self, task: TaskRef, start_type: StartType) -> None:
        """Start, resume or reload a task. Returns once the start was accepted, not when it ends."""
        ...

    def describe_tasks(self, tasks: Sequence[TaskRef]) -> Mapping[str, TaskStatus]:
        """Status of many tasks in as few calls as possible, keyed by task identifier."""
        ...

    def table_statistics(self, task: TaskRef) -> Sequence[TableStatistics]:
        """Per-table statistics of the task's latest run."""
        ...


@runtime_checkable
class TaskLookup(Protocol):
    """An engine that can find a database's existing task without creating anything (verify-only
    and load-only runs read the latest statistics of a task an earlier run started)."""

    def find_task(self, database: str, migration_type: MigrationType) -> TaskRef | None:
        """The task of ``database`` and ``migration_type``, or ``None`` when there is none."""
        ...


@runtime_checkable
class PlacedEngine(Protocol):
    """An engine whose tasks run on named replication instances (each has its own task limit)."""

    def instance_for(self, database: str) -> str:
        """The replication instance the database's tasks run on."""
        ...

"""Replication tasks of the fake DMS (a test double): the documented lifecycle, run by threads.

Lifecycle (reference/dms.md §4): ``creating`` → ``ready`` once described; ``StartReplicationTask``
answers ``starting``, the run goes ``running`` and ends ``stopped`` with ``Stop Reason
FULL_LOAD_ONLY_FINISHED`` (full load), ``STOPPED_AT_SERVER_TIME``/``_COMMIT_TIME`` (CDC bounded by
``CdcStopPosition``) or ``NORMAL`` (``StopReplicationTask``), or ``failed`` with
``LastFailureMessage``. With ``TableErrorPolicy=SUSPEND_TABLE`` (the default) a table that fails
is ``Table error`` while the task still "finishes". ``ModifyReplicationTask`` goes through
``modifying`` back to the previous state. State checks raise ``InvalidResourceStateFault`` as DMS
does: starting a running task, ``start-replication`` on a task that already ran (except a CDC task
given a start position, as the API documents), modifying a running task, starting while an
endpoint's connection test runs (the implicit test after ``ModifyEndpoint``).

CDC data comes from the embedded engine's change capture (``local_cdc``): a run covers the
changes after its start (``CdcStartPosition``, else the last ``RecoveryCheckpoint`` on
``resume-processing``, else the source's position when the run starts) up to its stop position
(or the moment it is stopped), written per table as CDC files. ``RecoveryCheckpoint`` looks like
DMS's (``checkpoint:V1#<run>#<LSN>#0#0#*#0#0``) and is accepted back as a start position, as are
LSNs and dates.
"""

from __future__ import annotations

import json
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlfleet.cdc.positions import stop_position
from sqlfleet.engines.base import STOP_AT_COMMIT_TIME, STOP_AT_SERVER_TIME, STOP_FULL_LOAD_FINISHED, STOP_NORMAL
from sqlfleet.engines.local_cdc import capture_position, open_change_window
from sqlfleet.engines.sqlite_source import SourceTable
from sqlfleet.testing.fake_dms_data import (
    S3Target,
    SqliteSource,
    parse_table_mappings,
    select_tables,
    source_tables,
    target_schema,
)
from sqlfleet.testing.fake_dms_state import Endpoint, FakeDmsError, Instance, TableStat, epoch

START_TYPES = frozenset({"start-replication", "resume-processing", "reload-target"})
MIGRATION_TYPES = frozenset({"full-load", "cdc", "full-load-and-cdc"})
_STOP_POSITION = re.compile(r"^(server_time|commit_time):(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)$")
_STARTABLE = frozenset({"ready", "stopped", "failed"})
_NO_TABLES = (
    "Last Error No tables were found at task initialization. Either the selected table(s) or schemas(s) "
    "no longer exist or no match was found for the table selection pattern(s). "
    "Stop Reason FATAL_ERROR Error Level FATAL"
)


class RunFailedError(Exception):
    """Ends a run as ``failed`` with this message."""


@dataclass
class Task:
    """One replication task and the state of its latest run."""

    arn: str
    identifier: str
    source: Endpoint
    target: Endpoint
    instance: Instance
    migration_type: str
    mappings: str
    settings: str
    created: datetime
    status: str = "creating"
    polls_left: int = 1
    resume_status: str = "ready"
    stop_reason: str | None = None
    failure: str | None = None
    checkpoint: str | None = None
    cdc_start_position: str | None = None
    cdc_stop_position: str | None = None
    runs: int = 0
    fresh_start: datetime | None = None
    start_date: datetime | None = None
    stop_date: datetime | None = None
    full_load_start: datetime | None = None
    full_load_finish: datetime | None = None
    started_mono: float = 0.0
    elapsed_ms: int = 0
    tables: dict[tuple[str, str], TableStat] = field(default_factory=dict)
    cancel: threading.Event | None = None
    thread: threading.Thread | None = None

    def setting(self, section: str, key: str, default: Any) -> Any:
        """One value of the task settings JSON (DMS defaults when unset)."""
        try:
            return (json.loads(self.settings or "{}").get(section) or {}).get(key, default)
        except ValueError:
            return default

    def to_api(self, without_settings: bool = False) -> dict[str, Any]:
        """The ``ReplicationTask`` shape."""
        states = [t.state for t in self.tables.values()]
        total = len(states)
        loaded = sum(s == "Table completed" for s in states)
        elapsed = self.elapsed_ms
        if self.status in {"starting", "running", "stopping"}:
            elapsed = int((time.monotonic() - self.started_mono) * 1000)
        stats: dict[str, Any] = {
            "FullLoadProgressPercent": int(100 * loaded / total) if total else 0,
            "ElapsedTimeMillis": elapsed,
            "TablesLoaded": loaded,
            "TablesLoading": sum(s == "Full load" for s in states),
            "TablesQueued": sum(s == "Before load" for s in states),
            "TablesErrored": sum(s == "Table error" for s in states),
        }
        for name, value in (
            ("FreshStartDate", self.fresh_start),
            ("StartDate", self.start_date),
            ("StopDate", self.stop_date),
            ("FullLoadStartDate", self.full_load_start),
            ("FullLoadFinishDate", self.full_load_finish),
        ):
            if value is not None:
                stats[name] = epoch(value)
        out: dict[str, Any] = {
            "ReplicationTaskIdentifier": self.identifier,
            "ReplicationTaskArn": self.arn,
            "SourceEndpointArn": self.source.arn,
            "TargetEndpointArn": self.target.arn,
            "ReplicationInstanceArn": self.instance.arn,
            "MigrationType": self.migration_type,
            "Status": self.status,
            "ReplicationTaskCreationDate": epoch(self.created),
            "ReplicationTaskStats": stats,
        }
        if not without_settings:
            out["TableMappings"] = self.mappings
            out["ReplicationTaskSettings"] = self.settings
        optional = {
            "StopReason": self.stop_reason,
            "LastFailureMessage": self.failure,
            "RecoveryCheckpoint": self.checkpoint,
            "CdcStartPosition": self.cdc_start_position,
            "CdcStopPosition": self.cdc_stop_position,
            "ReplicationTaskStartDate": epoch(self.start_date),
        }
        out.update({k: v for k, v in optional.items() if v is not None})
        return out


@dataclass(frozen=True)
class RunPlan:
    """What one run does, fixed when it starts (DMS reads the endpoints' settings at start)."""

    task: Task
    number: int
    start_type: str
    target: S3Target
    stop_at: datetime | None
    stop_reason: str
    run_seconds: float
    cancel: threading.Event
    start_position: str | None = None


def check_start(task: Task, params: dict[str, Any], testing: bool) -> None:
    """The state and parameter checks of ``StartReplicationTask``."""
    start_type = params.get("StartReplicationTaskType")
    if start_type not in START_TYPES:
        raise FakeDmsError("InvalidParameterValueException", f"Invalid StartReplicationTaskType {start_type!r}")
    if task.status not in _STARTABLE:
        raise FakeDmsError(
            "InvalidResourceStateFault", f"Replication task {task.identifier} cannot be started in {task.status} state"
        )
    if testing:
        raise FakeDmsError("InvalidResourceStateFault", "Replication Task cannot be started, invalid state")
    positioned = bool(params.get("CdcStartPosition") or params.get("CdcStartTime"))
    if params.get("CdcStartPosition") and params.get("CdcStartTime"):
        raise FakeDmsError("InvalidParameterCombinationException", "Specify CdcStartPosition or CdcStartTime, not both")
    if task.migration_type == "full-load" and (positioned or params.get("CdcStopPosition")):
        raise FakeDmsError("InvalidParameterCombinationException", "CDC start/stop positions need a CDC task")
    if task.runs == 0 and start_type != "start-replication":
        raise FakeDmsError(
            "InvalidResourceStateFault", f"Start Type {start_type!r} is not allowed for a task that never ran"
        )
    if task.runs > 0 and start_type == "start-replication" and not (task.migration_type == "cdc" and positioned):
        raise FakeDmsError(
            "InvalidResourceStateFault", "Start Type START_REPLICATION, is not allowed for the task in current state"
        )
    stop = params.get("CdcStopPosition")
    if stop is not None and not _STOP_POSITION.match(str(stop)):
        raise FakeDmsError("InvalidParameterValueException", f"Invalid CdcStopPosition {stop!r}")


def lsn_of(position: str) -> str:
    """A start position the embedded capture reads: the LSN inside a ``checkpoint:V1#..`` string."""
    if position.startswith("checkpoint:"):
        parts = position.split("#")
        if len(parts) < 3:
            raise RunFailedError(f"Last Error Invalid checkpoint {position!r}. Stop Reason FATAL_ERROR")
        return parts[2]
    return position


def stop_point(position: str | None) -> tuple[datetime | None, str]:
    """When a run stops by itself and with which stop reason (``None``: only when stopped)."""
    match = _STOP_POSITION.match(position or "")
    if match is None:
        return None, STOP_NORMAL
    at = datetime.fromisoformat(match.group(2)).replace(tzinfo=UTC)
    return at, STOP_AT_SERVER_TIME if match.group(1) == "server_time" else STOP_AT_COMMIT_TIME


class TaskRunner:
    """Runs a task's data plane in a thread; ``host`` is the ``FakeDms`` (lock, clock, writer, sources)."""

    def __init__(self, host: Any) -> None:
        self.host = host

    def start(self, plan: RunPlan) -> None:
        """Run ``plan`` in the background."""
        thread = threading.Thread(target=self._run, args=(plan,), name=f"fake-dms-{plan.task.identifier}", daemon=True)
        plan.task.thread = thread
        thread.start()

    def _pause(self, plan: RunPlan) -> None:
        step = self.host.config.step_seconds
        if step > 0:
            plan.cancel.wait(step)

    def _run(self, plan: RunPlan) -> None:
        task, host = plan.task, self.host
        try:
            self._pause(plan)
            with host.lock:
                if plan.cancel.is_set():
                    self._finish(plan, "stopped", STOP_NORMAL, None)
                    return
                task.status = "running"
            source = host.resolve_source(task.source)
            if source is None:
                raise RunFailedError(
                    f"Last Error Failed to connect to database {task.source.settings.get('DatabaseName')!r} on "
                    f"{task.source.settings.get('ServerName')!r}. Stop Reason FATAL_ERROR Error Level FATAL"
                )
            mappings = parse_table_mappings(task.mappings)
            chosen = select_tables(mappings, source_tables(source), task.migration_type)
            if not chosen and task.setting("ErrorBehavior", "FailOnNoTablesCaptured", False):
                raise RunFailedError(_NO_TABLES)
            placed = [(t, target_schema(mappings, t.schema_name)) for t in chosen]
            # CDC starts where the source is when the run starts, so changes made during a
            # full load are captured too (DMS caches them and applies them after the load).
            start = plan.start_position or (task.checkpoint if plan.start_type == "resume-processing" else None)
            if task.migration_type != "full-load":
                start = lsn_of(start) if start else capture_position(source.path)
            if task.migration_type != "cdc":
                self._full_load(plan, source, placed)
            if task.migration_type == "full-load":
                self._hold(plan)
                with host.lock:
                    self._finish(
                        plan, "stopped", STOP_NORMAL if plan.cancel.is_set() else STOP_FULL_LOAD_FINISHED, None
                    )
                return
            self._cdc(plan, source, placed, str(start), mappings.change_seq_column or "_dms_change_seq")
        except RunFailedError as exc:
            with host.lock:
                self._finish(plan, "failed", "Stop Reason FATAL_ERROR", str(exc))
        except Exception as exc:  # a run must end in a DMS state whatever happened
            with host.lock:
                self._finish(plan, "failed", "Stop Reason FATAL_ERROR", f"Last Error {type(exc).__name__}: {exc}")

    def _full_load(self, plan: RunPlan, source: SqliteSource, tables: list[tuple[SourceTable, str]]) -> None:
        task, host = plan.task, self.host
        with host.lock:
            if plan.start_type != "resume-processing":
                task.tables = {}
            for table, _schema in tables:
                key = (table.schema_name, table.name)
                if key not in task.tables or task.tables[key].state != "Table completed":
                    task.tables[key] = TableStat(table.schema_name, table.name, reloaded=plan.number > 1)
            task.full_load_start = host.clock()
            todo = [(t, s) for t, s in tables if task.tables[(t.schema_name, t.name)].state != "Table completed"]
        workers = max(1, min(int(task.setting("FullLoadSettings", "MaxFullLoadSubTasks", 8)), 4))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"fake-dms-{task.identifier}") as pool:
            list(pool.map(lambda pair: self._load_table(plan, source, *pair), todo))
        with host.lock:
            task.full_load_finish = host.clock()

    def _load_table(self, plan: RunPlan, source: SqliteSource, table: SourceTable, schema: str) -> None:
        task, host = plan.task, self.host
        if plan.cancel.is_set():
            return
        with host.lock:
            stat = task.tables[(table.schema_name, table.name)]
            stat.state, stat.started, stat.full_load_rows = "Full load", host.clock(), 0
        self._pause(plan)
        try:
            rows = host.writer.write_full_load(plan.target, schema, source, table, host.clock())
        except Exception as exc:
            if task.setting("ErrorBehavior", "TableErrorPolicy", "SUSPEND_TABLE") == "STOP_TASK":
                raise RunFailedError(f"Last Error Table {table.schema_name}.{table.name} failed: {exc}") from exc
            with host.lock:
                stat.state, stat.ended, stat.updated = "Table error", host.clock(), host.clock()
            return
        with host.lock:
            stat.state, stat.full_load_rows, stat.ended, stat.updated = (
                "Table completed",
                rows,
                host.clock(),
                host.clock(),
            )

    def _cdc(
        self, plan: RunPlan, source: SqliteSource, tables: list[tuple[SourceTable, str]], start: str, change_seq: str
    ) -> None:
        task, host = plan.task, self.host
        with host.lock:
            if task.migration_type == "cdc":
                task.tables = {(t.schema_name, t.name): TableStat(t.schema_name, t.name) for t, _s in tables}
        while not plan.cancel.is_set() and (plan.stop_at is None or host.clock() < plan.stop_at):
            plan.cancel.wait(max(0.01, host.config.step_seconds))
        self._hold(plan)
        stopped_by_user = plan.cancel.is_set()
        stop = task.cdc_stop_position if plan.stop_at is not None else stop_position(host.clock())
        window = open_change_window(source.path, start, stop)
        for table, schema in tables:
            key = (table.schema_name, table.name)
            if task.tables.get(key) is not None and task.tables[key].state == "Table error":
                continue
            try:
                counts = host.writer.write_changes(
                    plan.target, schema, source, table, window=window, now=host.clock(), change_seq=change_seq
                )
            except Exception as exc:
                if task.setting("ErrorBehavior", "TableErrorPolicy", "SUSPEND_TABLE") == "STOP_TASK":
                    raise RunFailedError(f"Last Error Table {table.schema_name}.{table.name} failed: {exc}") from exc
                with host.lock:
                    stat = task.tables.setdefault(key, TableStat(*key))
                    stat.state, stat.updated = "Table error", host.clock()
                continue
            with host.lock:
                stat = task.tables.setdefault(key, TableStat(*key))
                stat.inserts += counts.inserts
                stat.updates += counts.updates
                stat.deletes += counts.deletes
                stat.state, stat.updated = "Table completed", host.clock()
        with host.lock:
            task.checkpoint = f"checkpoint:V1#{plan.number}#{window.position}#0#0#*#0#0"
            self._finish(plan, "stopped", STOP_NORMAL if stopped_by_user else plan.stop_reason, None)

    def _hold(self, plan: RunPlan) -> None:
        """Keep the run going until it has lasted ``run_seconds`` (watchers see it running)."""
        left = plan.run_seconds - (time.monotonic() - plan.task.started_mono)
        if left > 0:
            plan.cancel.wait(left)

    def _finish(self, plan: RunPlan, status: str, reason: str, failure: str | None) -> None:
        task = plan.task
        task.status, task.stop_reason, task.failure = status, reason, failure
        task.stop_date = self.host.clock()
        task.elapsed_ms = int((time.monotonic() - task.started_mono) * 1000)
        task.cancel = None

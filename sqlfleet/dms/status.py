"""Task lifecycle rules and the classification of a task's outcome (reference/dms.md §4).

boto3's DMS waiters treat normal transitions as failures, so the project classifies statuses
itself: a task is done only when stopped or failed, and a stopped full load is a success only
if no table errored (with ``TableErrorPolicy=SUSPEND_TABLE`` a task can stop "finished" while
some tables failed).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict

from sqlfleet.engines.base import (
    STOP_FULL_LOAD_FINISHED,
    MigrationType,
    StartType,
    TableStatistics,
    TaskStatus,
    TaskStatusName,
)

Outcome = Literal["pending", "running", "succeeded", "failed"]

TERMINAL_STATUSES: frozenset[TaskStatusName] = frozenset({"stopped", "failed"})
_STARTABLE_FIRST: frozenset[TaskStatusName] = frozenset({"ready"})
_STARTABLE_AGAIN: frozenset[TaskStatusName] = frozenset({"stopped", "failed"})
_SUCCESS_STOPS: dict[MigrationType, frozenset[str]] = {
    "full-load": frozenset({STOP_FULL_LOAD_FINISHED}),
    "cdc": frozenset({"Stop Reason STOPPED_AT_SERVER_TIME", "Stop Reason STOPPED_AT_COMMIT_TIME"}),
    # STOPPED_AFTER_FULL_LOAD: stopped before applying cached changes (StopTaskCachedChangesNotApplied)
    "full-load-and-cdc": frozenset(
        {
            "Stop Reason STOPPED_AT_SERVER_TIME",
            "Stop Reason STOPPED_AT_COMMIT_TIME",
            "Stop Reason STOPPED_AFTER_FULL_LOAD",
        }
    ),
}


class TaskOutcome(BaseModel):
    """Where a task stands and, when it failed, why."""

    model_config = ConfigDict(frozen=True)

    outcome: Outcome
    reason: str | None = None


def is_terminal(status: TaskStatusName) -> bool:
    """True once a task has stopped or failed (nothing more will happen without a start)."""
    return status in TERMINAL_STATUSES


def choose_start_type(status: TaskStatusName, migration_type: MigrationType) -> StartType:
    """``start-replication`` for a task's first run; ``reload-target`` to repeat a full load.

    ``start-replication`` is valid only on the first run (hashicorp/terraform-provider-aws
    PR #24047); a daily full snapshot repeats with ``reload-target``; a CDC task continues with
    ``resume-processing``.
    """
    if status in _STARTABLE_FIRST:
        return "start-replication"
    if status in _STARTABLE_AGAIN:
        return "resume-processing" if migration_type == "cdc" else "reload-target"
    raise ValueError(f"a task in status {status!r} cannot be started")


def classify_task(
    status: TaskStatus, migration_type: MigrationType, tables: Sequence[TableStatistics] = ()
) -> TaskOutcome:
    """Classify a task from its status, stop reason, errored-table count and table states."""
    if status.status == "failed":
        return TaskOutcome(outcome="failed", reason=status.last_failure_message or "task failed")
    if not is_terminal(status.status):
        return TaskOutcome(outcome="pending" if status.status in {"creating", "ready"} else "running")
    errored = [t for t in tables if t.table_state == "Table error"]
    if status.stats.tables_errored or errored:
        names = ", ".join(f"{t.schema_name}.{t.table_name}" for t in errored) or "unknown tables"
        count = max(status.stats.tables_errored, len(errored))
        return TaskOutcome(outcome="failed", reason=f"{count} table(s) errored: {names}")
    if status.stop_reason not in _SUCCESS_STOPS[migration_type]:
        return TaskOutcome(outcome="failed", reason=f"task stopped early: {status.stop_reason or 'no stop reason'}")
    return TaskOutcome(outcome="succeeded")

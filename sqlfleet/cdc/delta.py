"""The decisions of a delta run, database by database (pure).

- ``plan_window``: where a ``cdc`` run starts (the latest checkpoint) and stops (the run's time),
  or what happens without a checkpoint (fail, or a ``full-load-and-cdc`` if the catalog says so);
- ``change_window``: the time span whose CDC files belong to a run (verification uses it);
- ``checkpoint_after``: the checkpoint to write once a window's load committed, or why none is;
- ``delta_outcome``: a database's summary line with its window, checkpoint and skipped views.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlfleet.cdc.positions import stop_position
from sqlfleet.checkpoints import DELTA_MODES, Checkpoint
from sqlfleet.dms.names import task_identifier
from sqlfleet.engines.base import TaskStatus
from sqlfleet.errors import ReplicationError, TerminalError, VerificationError
from sqlfleet.plan import DatabasePlan
from sqlfleet.report import DatabaseOutcome, LoadResult, ReplicationResult, TableRow
from sqlfleet.verify import CdcWindow

#: ``TableRow.warehouse`` of a view a cdc run leaves out.
SKIPPED = "skipped"


class NoCheckpointError(TerminalError):
    """A ``cdc`` run found no checkpoint for a database: nothing says where its delta starts."""


def plan_window(
    plan: DatabasePlan, checkpoint: Checkpoint | None, stop_at: datetime, views: Sequence[str] = ()
) -> DatabasePlan:
    """The plan of one database for this run, given its latest checkpoint.

    ``cdc``: the task starts at the checkpoint's position and stops at ``stop_at``; without a
    checkpoint the database fails with ``NoCheckpointError``, unless its catalog entry says
    ``cdc_without_checkpoint: full-load``, which turns it into a ``full-load-and-cdc``.
    ``views`` (``schema.view``) are the views the catalog selects, reported as skipped in both
    change modes (DMS replicates views in full-load tasks only). A ``full-load`` plan is returned
    unchanged.
    """
    spec = plan.spec
    if spec.migration_type == "full-load":
        return plan
    skipped = tuple(views) if plan.entry.views else ()
    if spec.migration_type == "cdc" and checkpoint is None:
        if plan.entry.cdc_without_checkpoint != "full-load":
            raise NoCheckpointError(
                f"{plan.name}: no CDC checkpoint yet, so nothing says where its delta starts: run a full load "
                "first (mode=full-load-and-cdc records the position), or set `cdc_without_checkpoint: full-load` "
                "in the catalog to do it automatically"
            )
        spec = spec.model_copy(
            update={"migration_type": "full-load-and-cdc", "cdc_start_position": None, "cdc_stop_position": None}
        )
    elif spec.migration_type == "cdc" and checkpoint is not None:
        spec = spec.model_copy(
            update={"cdc_start_position": checkpoint.position, "cdc_stop_position": stop_position(stop_at)}
        )
    spec = spec.model_copy(update={"include_views": False})
    return plan.model_copy(
        update={
            "spec": spec,
            "task_identifier": task_identifier(plan.name, spec.migration_type),
            "skipped_views": skipped,
        }
    )


def change_window(status: TaskStatus) -> CdcWindow:
    """The span in which a ``cdc`` task wrote its files: its start and stop dates."""
    start, stop = status.stats.start_date, status.stats.stop_date
    if start is None or stop is None:
        raise VerificationError([f"task {status.identifier} reported no start or stop date: its CDC files are unknown"])
    return CdcWindow(start=start, stop=stop)


def checkpoint_after(
    replication: ReplicationResult, load: LoadResult, batch_id: str, now: datetime
) -> Checkpoint | None:
    """The checkpoint to write after ``load`` of ``replication``'s output, or ``None``.

    ``None`` for a ``full-load`` (it records no position) and when any table failed to load: the
    checkpoint stays where it was, and the next delta replays this window.
    """
    mode = replication.task.migration_type
    if mode not in DELTA_MODES or load.failed:
        return None
    position = replication.status.recovery_checkpoint
    if not position:
        raise ReplicationError(f"task {replication.task.identifier} stopped without a recovery checkpoint")
    return Checkpoint(
        database=replication.database,
        mode=mode,
        position=position,
        task=replication.task.identifier,
        batch_id=batch_id,
        written_at=now,
    )


def delta_outcome(outcome: DatabaseOutcome, plan: object, checkpoint: object) -> DatabaseOutcome:
    """``outcome`` with the window's failure, the checkpoint's failure and skipped views folded in.

    ``plan`` is the planned window (``DatabasePlan``) or the error that planning it raised;
    ``checkpoint`` is what writing the checkpoint returned or raised.
    """
    if not isinstance(plan, DatabasePlan):
        return DatabaseOutcome(database=outcome.database, status="failed", failure=f"cdc: {plan}")
    rows = tuple(
        TableRow(
            table=view,
            engine_state="not replicated (views are full-load only)",
            engine_rows=0,
            files=0,
            bytes=0,
            warehouse=SKIPPED,
            warehouse_rows=0,
            problem="",
        )
        for view in plan.skipped_views
    )
    update: dict[str, object] = {"detail": outcome.detail + rows}
    if isinstance(checkpoint, BaseException) and outcome.status == "succeeded":
        update |= {"status": "failed", "failure": f"checkpoint: {checkpoint}"}
    return outcome.model_copy(update=update)


__all__ = ["SKIPPED", "NoCheckpointError", "change_window", "checkpoint_after", "delta_outcome", "plan_window"]

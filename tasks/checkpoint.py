"""Where a database's delta starts (its checkpoint) and moving it once the window is loaded."""

from __future__ import annotations

from datetime import UTC, datetime

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from sqlfleet.cdc.delta import checkpoint_after, plan_window
from sqlfleet.cdc.source_info import selected_views
from sqlfleet.checkpoints import Checkpoint, latest_checkpoint, open_checkpoint_store
from sqlfleet.plan import DatabasePlan
from sqlfleet.report import LoadResult, ReplicationResult
from sqlfleet.runtime import Runtime


@task(name="plan-window", task_run_name="window-{plan.name}", cache_policy=NO_CACHE)
def prepare_window(plan: DatabasePlan, runtime: Runtime, stop_at: datetime) -> DatabasePlan:
    """Read the database's latest checkpoint and the views it skips; plan its window to ``stop_at``.

    Fails the database (``NoCheckpointError``) when a ``cdc`` run has no checkpoint and the
    catalog does not ask for a full load instead.
    """
    checkpoint = None
    if plan.spec.migration_type == "cdc":
        store = open_checkpoint_store(runtime.settings, runtime.lake, runtime.warehouse)
        checkpoint = latest_checkpoint(store, plan.name)
    window = plan_window(plan, checkpoint, stop_at, selected_views(plan.entry))
    logger = get_run_logger()
    if window.spec.migration_type != plan.spec.migration_type:
        logger.warning(
            "%s: no CDC checkpoint yet: running %s as the catalog asks", plan.name, window.spec.migration_type
        )
    elif checkpoint is not None:
        logger.info("%s: changes after %s up to %s", plan.name, checkpoint.position, window.spec.cdc_stop_position)
    if window.skipped_views:
        logger.warning("%s: views are full-load only, skipped: %s", plan.name, ", ".join(window.skipped_views))
    return window


@task(name="advance-checkpoint", task_run_name="checkpoint-{load.database}", cache_policy=NO_CACHE)
def advance_checkpoint(
    load: LoadResult, replication: ReplicationResult, runtime: Runtime, batch_id: str
) -> Checkpoint | None:
    """Write the window's checkpoint, only now that its load committed; ``None`` when it must not move."""
    checkpoint = checkpoint_after(replication, load, batch_id, datetime.now(UTC).replace(tzinfo=None))
    logger = get_run_logger()
    if checkpoint is None:
        if load.failed:
            logger.warning("%s: checkpoint not advanced: %d table(s) failed to load", load.database, len(load.failed))
        return None
    open_checkpoint_store(runtime.settings, runtime.lake, runtime.warehouse).write(checkpoint)
    logger.info("%s: checkpoint %s (%s)", load.database, checkpoint.position, checkpoint.mode)
    return checkpoint

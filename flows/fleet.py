"""The fleet flow: plan, then for every database replicate → verify → load, then report.

``mode`` is chosen per run (``prefect deployment run ... --param mode=cdc``): ``full-load``
replaces every table; ``cdc`` merges the changes since each database's checkpoint and then moves
the checkpoint; ``full-load-and-cdc`` is a full load that records where the next delta starts.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from prefect import flow, get_run_logger, unmapped
from prefect.futures import PrefectFuture, as_completed
from prefect.runtime import flow_run
from prefect.states import Completed, Failed, State
from prefect.task_runners import ThreadPoolTaskRunner

from sqlfleet.catalog import apply_enabled_overrides, select_databases
from sqlfleet.cdc.delta import delta_outcome
from sqlfleet.plan import build_plan
from sqlfleet.report import DatabaseOutcome, FleetSummary, outcome_from_steps
from sqlfleet.runtime import Runtime
from sqlfleet.settings import Settings
from tasks.catalog import load_catalog_file, read_enabled_overrides
from tasks.checkpoint import advance_checkpoint, prepare_window
from tasks.load import load_verified
from tasks.load_changes import load_window
from tasks.replicate import replicate_database
from tasks.report import (
    publish_database_report,
    publish_fleet_report,
    publish_ledger,
    publish_plan,
    start_progress,
    update_progress,
)
from tasks.verify import verify_replication

Mode = Literal["full-load", "cdc", "full-load-and-cdc"]


@flow(name="sqlfleet-fleet", task_runner=ThreadPoolTaskRunner(max_workers=32))  # type: ignore[arg-type]
def fleet_run(
    mode: Mode = "full-load",
    databases: list[str] | None = None,
    dry_run: bool = False,
    catalog_path: str | None = None,
) -> State:
    """Replicate, verify and load every enabled database (or the named ones) of the catalog.

    One failing database never stops the others; the run ends Failed naming the failed ones.
    ``dry_run`` stops after the plan artifact. In ``cdc`` a database without a checkpoint fails
    (run ``full-load-and-cdc`` first) unless its catalog entry says ``cdc_without_checkpoint:
    full-load``; views are full-load only and reported as skipped in both change modes.
    """
    settings = Settings() if catalog_path is None else Settings(catalog_path=catalog_path)
    logger = get_run_logger()
    catalog = load_catalog_file(str(settings.catalog_path))
    overrides = read_enabled_overrides(settings.enabled_variable)
    warnings: list[str] = []
    if overrides is not None:
        catalog, warnings = apply_enabled_overrides(
            catalog, overrides, origin=f"Prefect Variable {settings.enabled_variable}"
        )
    for warning in warnings:
        logger.warning(warning)
    plan = build_plan(
        select_databases(catalog, databases),
        mode,
        max_file_size_kb=settings.max_file_size_kb,
        timestamp_column=settings.timestamp_column,
        warnings=warnings,
        change_seq_column=settings.change_seq_column,
    )
    publish_plan(plan)
    if dry_run or not plan.databases:
        summary = FleetSummary(mode=mode, outcomes=())
        return Completed(message=f"dry run: {len(plan.databases)} database(s) planned", data=summary)

    batch_id = f"{flow_run.get_id() or 'local'}"
    with Runtime.open(settings) as runtime:
        delta = mode != "full-load"
        now = datetime.now(UTC).replace(tzinfo=None)  # one cut for the whole fleet
        windows: Any = (
            prepare_window.map(plan.databases, runtime=unmapped(runtime), stop_at=unmapped(now))
            if delta
            else plan.databases
        )
        replicated = replicate_database.map(windows, runtime=unmapped(runtime))
        verified = verify_replication.map(replicated, runtime=unmapped(runtime))
        loader = load_window if delta else load_verified
        loaded = loader.map(verified, windows, runtime=unmapped(runtime), batch_id=unmapped(batch_id))
        checkpoints = (
            advance_checkpoint.map(loaded, replicated, runtime=unmapped(runtime), batch_id=unmapped(batch_id))
            if delta
            else None
        )
        progress = start_progress(len(plan.databases))
        index = {id(f): i for i, f in enumerate(loaded)}
        outcomes: list[DatabaseOutcome | None] = [None] * len(plan.databases)
        for done, future in enumerate(as_completed(list(loaded)), start=1):
            i = index[id(future)]
            outcome = outcome_from_steps(
                plan.databases[i].name,
                _step_result(replicated[i]),
                _step_result(verified[i]),
                _step_result(future),
            )
            if checkpoints is not None:
                outcome = delta_outcome(outcome, _step_result(windows[i]), _step_result(checkpoints[i]))
            outcomes[i] = outcome
            publish_database_report(outcome)
            update_progress(progress, done, len(plan.databases))
    summary = FleetSummary(mode=mode, outcomes=tuple(o for o in outcomes if o is not None))
    publish_fleet_report(summary)
    publish_ledger([_step_result(f) for f in loaded])
    if summary.failed:
        return Failed(message=summary.message, data=summary)
    return Completed(message=summary.message, data=summary)


def _step_result(future: PrefectFuture[Any]) -> object:
    """A step's result, or the exception that stopped it (a step whose input failed never ran)."""
    future.wait()
    if not future.state.is_final():
        return RuntimeError("not run: an earlier step of this database failed")
    return future.result(raise_on_failure=False)

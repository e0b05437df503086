"""Publishing results to the Prefect UI as artifacts."""

from __future__ import annotations

from uuid import UUID

from prefect import task
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.cache_policies import NO_CACHE

from sqlfleet.ledger import fleet_rollup, ledger_table
from sqlfleet.plan import FleetPlan, plan_table
from sqlfleet.report import (
    DatabaseOutcome,
    FleetSummary,
    LoadResult,
    artifact_key,
    database_table,
    fleet_markdown,
    fleet_table,
)


@task(name="publish-plan", cache_policy=NO_CACHE)
def publish_plan(plan: FleetPlan, actions: dict[str, str] | None = None, run_key: str | None = None) -> None:
    """The plan as a table artifact, shown before anything starts (with a resumed run's actions)."""
    warnings = "; ".join(plan.warnings)
    create_table_artifact(
        key="sqlfleet-plan",
        table=plan_table(plan, actions),
        description=f"{len(plan.databases)} database(s), {plan.mode}"
        + (f", run key {run_key}" if run_key else "")
        + (f". Warnings: {warnings}" if warnings else ""),
    )


@task(name="start-progress", cache_policy=NO_CACHE)
def start_progress(total: int) -> UUID:
    """A progress artifact at 0 %, updated as databases finish."""
    artifact_id = create_progress_artifact(
        progress=0.0, key="sqlfleet-progress", description=f"databases finished out of {total}"
    )
    assert isinstance(artifact_id, UUID)  # the sync call returns the id, not a coroutine
    return artifact_id


@task(name="update-progress", cache_policy=NO_CACHE)
def update_progress(artifact_id: UUID, done: int, total: int) -> None:
    """Move the progress artifact to ``done / total``."""
    update_progress_artifact(artifact_id=artifact_id, progress=100.0 * done / max(total, 1))


@task(name="publish-database-report", task_run_name="report-{outcome.database}", cache_policy=NO_CACHE)
def publish_database_report(outcome: DatabaseOutcome) -> None:
    """One database's per-table results as a table artifact."""
    create_table_artifact(
        key=artifact_key("sqlfleet-db", outcome.database),
        table=database_table(outcome) or [{"table": "-", "problem": outcome.failure}],
        description=f"{outcome.database}: {outcome.status}" + (f" ({outcome.failure})" if outcome.failure else ""),
    )


@task(name="publish-fleet-report", cache_policy=NO_CACHE)
def publish_fleet_report(summary: FleetSummary) -> None:
    """The fleet summary table and a markdown summary of the run."""
    create_table_artifact(key="sqlfleet-fleet", table=fleet_table(summary), description=summary.message)
    create_markdown_artifact(key="sqlfleet-summary", markdown=fleet_markdown(summary), description=summary.message)


@task(name="publish-ledger", cache_policy=NO_CACHE)
def publish_ledger(loads: list[object]) -> None:
    """The reconciliation ledger: one table artifact per database and a fleet rollup.

    ``loads`` are the load steps' results; a step that raised has no ledger and is skipped.
    """
    for result in loads:
        if isinstance(result, LoadResult):
            publish_database_ledger(result)
    publish_ledger_rollup.fn(loads)


def publish_database_ledger(result: LoadResult) -> None:
    """One database's reconciliation ledger as a table artifact (a load without one publishes nothing).

    A plain function: the fleet run publishes each database's ledger as the database finishes.
    """
    entries = result.ledger
    if not entries:
        return
    mismatched = sum(e.status != "ok" for e in entries)
    create_table_artifact(
        key=artifact_key("sqlfleet-ledger", result.database),
        table=ledger_table(entries),
        description=f"{result.database}: {len(entries) - mismatched}/{len(entries)} tables reconcile",
    )


@task(name="publish-ledger-rollup", cache_policy=NO_CACHE)
def publish_ledger_rollup(loads: list[object]) -> None:
    """The fleet's rollup of every database's reconciliation ledger as one table artifact."""
    ledgers = {r.database: r.ledger for r in loads if isinstance(r, LoadResult) and r.ledger}
    rollup = fleet_rollup(ledgers)
    if rollup:
        reconciled = sum(int(str(r["ok"])) for r in rollup)
        total = sum(int(str(r["tables"])) for r in rollup)
        create_table_artifact(
            key="sqlfleet-ledger", table=rollup, description=f"{reconciled}/{total} tables reconcile across the fleet"
        )

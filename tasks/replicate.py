"""Run one database's replication task on the engine and wait for it."""

from __future__ import annotations

import time

from prefect import task
from prefect.cache_policies import NO_CACHE

from sqlfleet.dms.status import choose_start_type
from sqlfleet.errors import ReplicationError
from sqlfleet.plan import DatabasePlan
from sqlfleet.report import ReplicationResult
from sqlfleet.runtime import Runtime


@task(name="replicate-database", task_run_name="replicate-{plan.name}", cache_policy=NO_CACHE)
def replicate_database(plan: DatabasePlan, runtime: Runtime) -> ReplicationResult:
    """Ensure the task, start it the right way, and block until it stops (with a deadline)."""
    engine = runtime.engine
    with runtime.database_slots:
        began = time.monotonic()
        ref = engine.ensure_task(plan.spec)
        current = engine.describe_tasks([ref])[ref.identifier]
        start_type = choose_start_type(current.status, plan.spec.migration_type)
        engine.start_task(ref, start_type)
        final = runtime.watcher.wait_for_task(ref, runtime.settings.task_deadline_seconds)
        tables = tuple(engine.table_statistics(ref))
        seconds = time.monotonic() - began
    if final.status == "failed":
        raise ReplicationError(f"task {ref.identifier} failed: {final.last_failure_message or 'no message'}")
    return ReplicationResult(
        database=plan.name, task=ref, start_type=start_type, status=final, tables=tables, seconds=seconds
    )

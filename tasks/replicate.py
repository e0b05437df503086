"""Run one database's replication task on the engine and wait for it; or read an earlier run's.

The fleet run starts this step only while it holds a slot of the instance's global concurrency
limit for it (``flows/lanes.py``), so no more tasks run on an instance than its limit, whichever
flow runs them. A task found still running (a resumed run, another process's run) is re-attached
to: the step waits for it instead of starting it again.
"""

from __future__ import annotations

import time
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from sqlfleet.dms.status import choose_start_type, is_terminal
from sqlfleet.engines.base import StartType, TaskLookup
from sqlfleet.errors import ConfigError, ReplicationError
from sqlfleet.plan import DatabasePlan
from sqlfleet.report import ReplicationResult
from sqlfleet.runtime import Runtime

#: Statuses of a task that is already running: the step attaches to it rather than starting it.
ATTACHABLE = frozenset({"starting", "running", "stopping"})


def replicate(plan: DatabasePlan, runtime: Runtime, logger: Any) -> ReplicationResult:
    """Ensure the task, start it the right way (or re-attach), and block until it stops (with a deadline)."""
    engine = runtime.engine
    ref = engine.ensure_task(plan.spec)
    began = time.monotonic()
    current = engine.describe_tasks([ref])[ref.identifier]
    start_type: StartType | None = None
    if current.status in ATTACHABLE:
        logger.info("%s: task %s is already %s: waiting for it", plan.name, ref.identifier, current.status)
    else:
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


def read_replication(plan: DatabasePlan, runtime: Runtime) -> ReplicationResult:
    """The latest finished run of the database's task for the plan's mode, without starting anything."""
    engine = runtime.engine
    mode = plan.spec.migration_type
    if not isinstance(engine, TaskLookup):
        raise ConfigError(f"the {runtime.settings.engine} engine cannot look up existing tasks (no find_task)")
    ref = engine.find_task(plan.name, mode)
    if ref is None:
        raise ReplicationError(f"{plan.name} has no {mode} task yet: nothing was replicated; run the fleet first")
    status = engine.describe_tasks([ref])[ref.identifier]
    if not is_terminal(status.status):
        raise ReplicationError(f"task {ref.identifier} is {status.status}: read it once it has finished")
    if status.status == "failed":
        raise ReplicationError(f"task {ref.identifier} failed: {status.last_failure_message or 'no message'}")
    tables = tuple(engine.table_statistics(ref))
    return ReplicationResult(database=plan.name, task=ref, start_type=None, status=status, tables=tables, seconds=0.0)


@task(name="replicate-database", task_run_name="replicate-{plan.name}", cache_policy=NO_CACHE)
def replicate_database(plan: DatabasePlan, runtime: Runtime) -> ReplicationResult:
    """Replicate one database: see ``replicate``."""
    return replicate(plan, runtime, get_run_logger())


@task(name="read-replication", task_run_name="read-replication-{plan.name}", cache_policy=NO_CACHE)
def read_latest_replication(plan: DatabasePlan, runtime: Runtime) -> ReplicationResult:
    """The statistics of the database's latest finished task: see ``read_replication``."""
    return read_replication(plan, runtime)


__all__ = ["ATTACHABLE", "read_latest_replication", "read_replication", "replicate", "replicate_database"]

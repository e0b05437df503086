"""One database's warehouse load as a fleet step.

The fleet run starts it only while it holds a slot of the warehouse's global concurrency limit
for it (``flows/lanes.py``): that bounds how many databases load at once across every flow run.
"""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from sqlfleet.plan import DatabasePlan
from sqlfleet.report import LoadResult
from sqlfleet.runtime import Runtime
from sqlfleet.verify import VerifyReport
from tasks.load_changes import load_window


def load(report: VerifyReport, plan: DatabasePlan, runtime: Runtime, batch_id: str) -> LoadResult:
    """Load (full load) or merge (cdc) the verified tables; the tables of one database load in
    parallel within ``warehouse_concurrency``."""
    return load_window.fn(report, plan, runtime, batch_id)


@task(name="warehouse-load", task_run_name="load-{plan.name}", cache_policy=NO_CACHE)
def load_database(report: VerifyReport, plan: DatabasePlan, runtime: Runtime, batch_id: str) -> LoadResult:
    """Load one database: see ``load``."""
    return load(report, plan, runtime, batch_id)


__all__ = ["load", "load_database"]

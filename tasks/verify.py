"""Verify what one database's task wrote to the lake, from Parquet footers only."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from sqlfleet.cdc.delta import change_window
from sqlfleet.report import ReplicationResult
from sqlfleet.runtime import Runtime
from sqlfleet.verify import VerifyReport, verify_changes, verify_database


@task(name="verify-database", task_run_name="verify-{replication.database}", cache_policy=NO_CACHE)
def verify_replication(replication: ReplicationResult, runtime: Runtime) -> VerifyReport:
    """Reconcile the engine's table statistics with the files and footers in the lake.

    A ``cdc`` run is checked against the CDC files written during its window only.
    """
    if replication.task.migration_type == "cdc":
        window = change_window(replication.status)
        report = verify_changes(runtime.lake, replication.database, replication.tables, window)
    else:
        report = verify_database(runtime.lake, replication.database, replication.tables)
    logger = get_run_logger()
    for problem in report.problems:
        log = logger.error if problem.severity == "error" else logger.warning
        log("%s: %s", replication.database, problem.message)
    return report

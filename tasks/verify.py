"""Verify what one database's task wrote to the lake, from Parquet footers only."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from sqlfleet.report import ReplicationResult
from sqlfleet.runtime import Runtime
from sqlfleet.verify import VerifyReport, verify_database


@task(name="verify-database", task_run_name="verify-{replication.database}", cache_policy=NO_CACHE)
def verify_replication(replication: ReplicationResult, runtime: Runtime) -> VerifyReport:
    """Reconcile the engine's table statistics with the files and footers in the lake."""
    report = verify_database(runtime.lake, replication.database, replication.tables)
    logger = get_run_logger()
    for problem in report.problems:
        log = logger.error if problem.severity == "error" else logger.warning
        log("%s: %s", replication.database, problem.message)
    return report

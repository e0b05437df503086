"""Load one database's verified window: merge a cdc run's changes, or load a full load; reconcile either."""

from __future__ import annotations

import time

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from sqlfleet.cdc.source_info import merge_key, source_keys
from sqlfleet.plan import DatabasePlan
from sqlfleet.report import LoadResult
from sqlfleet.runtime import Runtime
from sqlfleet.verify import VerifiedTable, VerifyReport
from sqlfleet.warehouses.base import LoadedTable
from tasks.load import load_verified, reconcile, run_tables


@task(name="load-window", task_run_name="load-{plan.name}", cache_policy=NO_CACHE)
def load_window(report: VerifyReport, plan: DatabasePlan, runtime: Runtime, batch_id: str) -> LoadResult:
    """Merge every verified table's change files (``cdc``), or replace the tables (full load); then reconcile.

    Tables merge in parallel within the warehouse limits (``run_tables``), at most one merge per
    target. A table that failed verification is reported failed and not merged; transient
    warehouse errors are retried per table, terminal ones fail that table only. The merge is
    idempotent, so replaying a window whose checkpoint did not advance changes nothing. Every
    table gets a reconciliation ledger entry (engine changes = footer rows, changes applied and
    the target's rows before and after); a table whose counts disagree fails, so the checkpoint
    does not move.
    """
    if report.mode != "cdc":
        return load_verified.fn(report, plan, runtime, batch_id)
    began = time.monotonic()
    entry = plan.entry
    known = source_keys(entry)

    def merge_one(table: VerifiedTable) -> LoadedTable:
        key = merge_key(entry, known, table.schema_name, table.table)
        return runtime.warehouse.merge_changes(plan.name, table, runtime.lake, batch_id, key, entry.default_schema)

    results = run_tables(report, plan, runtime, merge_one, get_run_logger())
    result = LoadResult(database=plan.name, batch_id=batch_id, tables=tuple(results), seconds=time.monotonic() - began)
    return reconcile(report, result, runtime)

"""Load one database's verified window: merge a cdc run's changes, or load a full load."""

from __future__ import annotations

import time

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from sqlfleet.cdc.source_info import merge_key, source_keys
from sqlfleet.errors import SqlfleetError, TransientError
from sqlfleet.plan import DatabasePlan
from sqlfleet.report import LoadResult
from sqlfleet.runtime import Runtime
from sqlfleet.verify import VerifyReport
from sqlfleet.warehouses.base import LoadedTable, target_table_name
from tasks.load import TRANSIENT_ATTEMPTS, load_verified


@task(name="load-window", task_run_name="load-{plan.name}", cache_policy=NO_CACHE)
def load_window(report: VerifyReport, plan: DatabasePlan, runtime: Runtime, batch_id: str) -> LoadResult:
    """Merge every verified table's change files (``cdc``), or replace the tables (full load).

    A table that failed verification is reported failed and not merged; transient warehouse
    errors are retried per table, terminal ones fail that table only. The merge is idempotent,
    so replaying a window whose checkpoint did not advance changes nothing.
    """
    if report.mode != "cdc":
        return load_verified.fn(report, plan, runtime, batch_id)
    logger = get_run_logger()
    began = time.monotonic()
    entry = plan.entry
    known = source_keys(entry)
    results: list[LoadedTable] = []
    for table in report.tables:
        target = target_table_name(table.schema_name, table.table, entry.default_schema)
        if not table.ok:
            problems = "; ".join(p.message for p in report.problems if p.table == table.name and p.severity == "error")
            results.append(_failed(table.schema_name, table.table, target, f"not merged: {problems}"))
            continue
        key = merge_key(entry, known, table.schema_name, table.table)
        for attempt in range(1, TRANSIENT_ATTEMPTS + 1):
            try:
                merged = runtime.warehouse.merge_changes(
                    plan.name, table, runtime.lake, batch_id, key, entry.default_schema
                )
                results.append(merged)
                for note in merged.notes:
                    logger.warning("%s.%s: %s", plan.name, table.name, note)
                break
            except TransientError as exc:
                if attempt == TRANSIENT_ATTEMPTS:
                    results.append(_failed(table.schema_name, table.table, target, str(exc)))
                else:
                    logger.warning("%s.%s: %s (attempt %d, retrying)", plan.name, table.name, exc, attempt)
                    time.sleep(0.5 * 2**attempt)
            except SqlfleetError as exc:
                logger.error("%s.%s: %s", plan.name, table.name, exc)
                results.append(_failed(table.schema_name, table.table, target, str(exc)))
                break
    return LoadResult(database=plan.name, batch_id=batch_id, tables=tuple(results), seconds=time.monotonic() - began)


def _failed(schema_name: str, table: str, target: str, error: str) -> LoadedTable:
    return LoadedTable(
        schema_name=schema_name,
        table=table,
        target=target,
        rows=0,
        files=0,
        bytes=0,
        status="failed",
        error=error,
        seconds=0.0,
    )

"""Load one database's verified tables into the warehouse."""

from __future__ import annotations

import time

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from sqlfleet.errors import SqlfleetError, TransientError
from sqlfleet.plan import DatabasePlan
from sqlfleet.report import LoadResult
from sqlfleet.runtime import Runtime
from sqlfleet.verify import VerifyReport
from sqlfleet.warehouses.base import LoadedTable, target_table_name

TRANSIENT_ATTEMPTS = 3


@task(name="load-database", task_run_name="load-{plan.name}", cache_policy=NO_CACHE)
def load_verified(report: VerifyReport, plan: DatabasePlan, runtime: Runtime, batch_id: str) -> LoadResult:
    """Load every table that verified; a table that fails does not stop the others.

    Tables that failed verification are reported as failed and not loaded; transient
    warehouse errors are retried per table, terminal ones fail that table only.
    """
    logger = get_run_logger()
    began = time.monotonic()
    default_schema = plan.entry.default_schema
    results: list[LoadedTable] = []
    for table in report.tables:
        target = target_table_name(table.schema_name, table.table, default_schema)
        if not table.ok:
            problems = "; ".join(p.message for p in report.problems if p.table == table.name and p.severity == "error")
            results.append(
                LoadedTable(
                    schema_name=table.schema_name,
                    table=table.table,
                    target=target,
                    rows=0,
                    files=len(table.files),
                    bytes=table.bytes,
                    status="failed",
                    error=f"not loaded: {problems or 'verification failed'}",
                    seconds=0.0,
                )
            )
            continue
        for attempt in range(1, TRANSIENT_ATTEMPTS + 1):
            try:
                results.append(runtime.warehouse.load_full(plan.name, table, runtime.lake, batch_id, default_schema))
                break
            except TransientError as exc:
                if attempt == TRANSIENT_ATTEMPTS:
                    results.append(_failed(table.schema_name, table.table, target, exc))
                else:
                    logger.warning("%s.%s: %s (attempt %d, retrying)", plan.name, table.name, exc, attempt)
                    time.sleep(0.5 * 2**attempt)
            except SqlfleetError as exc:
                logger.error("%s.%s: %s", plan.name, table.name, exc)
                results.append(_failed(table.schema_name, table.table, target, exc))
                break
    return LoadResult(database=plan.name, batch_id=batch_id, tables=tuple(results), seconds=time.monotonic() - began)


def _failed(schema_name: str, table: str, target: str, exc: Exception) -> LoadedTable:
    return LoadedTable(
        schema_name=schema_name,
        table=table,
        target=target,
        rows=0,
        files=0,
        bytes=0,
        status="failed",
        error=str(exc),
        seconds=0.0,
    )

"""Load one database's verified tables into the warehouse, in parallel, and reconcile every count."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import wait
from datetime import UTC, datetime
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from sqlfleet.errors import SqlfleetError, TransientError
from sqlfleet.ledger import LedgerEntry, change_entry, failing_loads, full_load_entry
from sqlfleet.plan import DatabasePlan
from sqlfleet.report import LoadResult
from sqlfleet.runtime import Runtime
from sqlfleet.verify import VerifiedTable, VerifyReport
from sqlfleet.warehouses.base import LoadedTable, target_table_name

TRANSIENT_ATTEMPTS = 3

LoadOne = Callable[[VerifiedTable], LoadedTable]


@task(name="load-database", task_run_name="load-{plan.name}", cache_policy=NO_CACHE)
def load_verified(report: VerifyReport, plan: DatabasePlan, runtime: Runtime, batch_id: str) -> LoadResult:
    """Load every table that verified, up to ``warehouse_concurrency`` at once; then reconcile.

    Tables that failed verification are reported as failed and not loaded; transient
    warehouse errors are retried per table, terminal ones fail that table only. A table whose
    counts disagree in the reconciliation ledger fails too.
    """
    began = time.monotonic()
    default_schema = plan.entry.default_schema

    def load_one(table: VerifiedTable) -> LoadedTable:
        return runtime.warehouse.load_full(plan.name, table, runtime.lake, batch_id, default_schema)

    results = run_tables(report, plan, runtime, load_one, get_run_logger())
    result = LoadResult(database=plan.name, batch_id=batch_id, tables=tuple(results), seconds=time.monotonic() - began)
    return reconcile(report, result, runtime)


def run_tables(
    report: VerifyReport, plan: DatabasePlan, runtime: Runtime, load_one: LoadOne, logger: Any
) -> list[LoadedTable]:
    """``load_one`` for every table of ``report``, in parallel on the runtime's load threads.

    Each call holds one of the runtime's process-wide warehouse slots, so databases loading at
    once share the ``warehouse_concurrency`` limit. Results come back in table order; a table that
    failed verification is not loaded. ``logger`` is the caller's run logger (worker threads have
    no run context).
    """
    default_schema = plan.entry.default_schema
    settings = runtime.settings

    def one(table: VerifiedTable) -> LoadedTable:
        target = target_table_name(table.schema_name, table.table, default_schema)
        if not table.ok:
            problems = "; ".join(p.message for p in report.problems if p.table == table.name and p.severity == "error")
            return _failed(table, target, f"not loaded: {problems or 'verification failed'}", files=True)
        for attempt in range(1, TRANSIENT_ATTEMPTS + 1):
            try:
                if not runtime.warehouse_slots.acquire(timeout=settings.task_deadline_seconds):
                    raise TransientError(f"no warehouse slot free after {settings.task_deadline_seconds:.0f} s")
                try:
                    loaded = load_one(table)
                finally:
                    runtime.warehouse_slots.release()
                for note in loaded.notes:
                    logger.warning("%s.%s: %s", plan.name, table.name, note)
                return loaded
            except TransientError as exc:
                if attempt == TRANSIENT_ATTEMPTS:
                    return _failed(table, target, str(exc))
                logger.warning("%s.%s: %s (attempt %d, retrying)", plan.name, table.name, exc, attempt)
                time.sleep(0.5 * 2**attempt)
            except SqlfleetError as exc:
                logger.error("%s.%s: %s", plan.name, table.name, exc)
                return _failed(table, target, str(exc))
        raise AssertionError("unreachable: every attempt returns")

    futures = [runtime.load_pool.submit(one, table) for table in report.tables]
    wait(futures)  # every table ends before the load does, even when one of them raised
    return [f.result() for f in futures]


def reconcile(
    report: VerifyReport, result: LoadResult, runtime: Runtime, engine_changes: dict[str, int] | None = None
) -> LoadResult:
    """Build the ledger of a load, keep it in the warehouse, and fail every table whose counts disagree.

    Full loads reconcile source, engine, footer and warehouse rows; a ``cdc`` report reconciles
    the engine's changes with the footers and the applied changes with the target's rows
    (``engine_changes`` by ``schema.table`` overrides the verified table's expected rows). A
    ledger that cannot be written is logged, not fatal: the loads themselves committed.
    """
    now = datetime.now(UTC).replace(tzinfo=None)
    by_name = {t.name: t for t in report.tables}
    entries: list[LedgerEntry] = []
    for loaded in result.tables:
        table = by_name.get(f"{loaded.schema_name}.{loaded.table}")
        if table is None:
            continue
        if report.mode == "cdc":
            changes = (engine_changes or {}).get(table.name)
            entries.append(change_entry(result.database, result.batch_id, table, loaded, now, engine_changes=changes))
        else:
            entries.append(full_load_entry(result.database, result.batch_id, table, loaded, now))
    try:
        runtime.warehouse.record_ledger(entries)
    except SqlfleetError as exc:
        _logger().error("%s: the reconciliation ledger was not kept in the warehouse: %s", result.database, exc)
    return result.model_copy(update={"tables": failing_loads(result.tables, entries), "ledger": tuple(entries)})


def _logger() -> Any:
    try:
        return get_run_logger()
    except Exception:  # outside a Prefect run (a direct call in a script)
        return logging.getLogger("sqlfleet.load")


def _failed(table: VerifiedTable, target: str, error: str, *, files: bool = False) -> LoadedTable:
    return LoadedTable(
        schema_name=table.schema_name,
        table=table.table,
        target=target,
        rows=0,
        files=len(table.files) if files else 0,
        bytes=table.bytes if files else 0,
        status="failed",
        error=error,
        seconds=0.0,
    )


__all__ = ["TRANSIENT_ATTEMPTS", "load_verified", "reconcile", "run_tables"]

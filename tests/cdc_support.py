"""Helpers shared by the CDC tests: one replicate → verify → load → checkpoint cycle without Prefect.

``cycle`` does for one database what the fleet flow does in a delta run, with the same domain
functions (``plan_window``, ``verify_changes``, ``merge_changes``, ``checkpoint_after``), so the
tests exercise the real pieces and the flow tests only need to prove the wiring.
"""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlfleet.catalog_models import DatabaseEntry
from sqlfleet.cdc.delta import change_window, checkpoint_after, plan_window
from sqlfleet.cdc.source_info import merge_key, source_keys
from sqlfleet.checkpoints import CheckpointStore, latest_checkpoint
from sqlfleet.dms.status import choose_start_type
from sqlfleet.engines.base import MigrationType, TaskRef, TaskStatus
from sqlfleet.engines.local import LocalEngine
from sqlfleet.lake import Lake
from sqlfleet.plan import build_plan
from sqlfleet.report import LoadResult, ReplicationResult
from sqlfleet.verify import VerifyReport, verify_changes, verify_database
from sqlfleet.warehouses.duckdb import DuckDBWarehouse


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def execute_all(path: Path, *statements: str) -> None:
    """Run statements on a SQLite file in one transaction (a source's application writing)."""
    con = sqlite3.connect(path)
    try:
        for statement in statements:
            con.execute(statement)
        con.commit()
    finally:
        con.close()


def wait(engine: LocalEngine, ref: TaskRef) -> TaskStatus:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = engine.describe_tasks([ref])[ref.identifier]
        if status.status in {"stopped", "failed"}:
            return status
        time.sleep(0.01)
    raise AssertionError("task did not finish")


def entry_for(name: str, source: Path, **options: object) -> DatabaseEntry:
    return DatabaseEntry.model_validate({"name": name, "enabled": True, "source": f"sqlite:///{source}", **options})


class Cycle:
    """The outputs of one cycle, for assertions."""

    def __init__(self, replication: ReplicationResult, report: VerifyReport, load: LoadResult) -> None:
        self.replication = replication
        self.report = report
        self.load = load

    @property
    def stats(self) -> dict[str, object]:
        return {t.table_name: t for t in self.replication.tables}


def cycle(  # noqa: PLR0917 - the tests read better positionally
    engine: LocalEngine,
    lake: Lake,
    warehouse: DuckDBWarehouse,
    store: CheckpointStore,
    entry: DatabaseEntry,
    mode: MigrationType,
    *,
    batch_id: str = "batch",
    write_checkpoint: bool = True,
) -> Cycle:
    """Replicate, verify, load and (unless told not to: a crash) move the checkpoint of one database."""
    planned = build_plan([entry], mode, max_file_size_kb=1_048_576, timestamp_column="_dms_ts").databases[0]
    checkpoint = latest_checkpoint(store, entry.name) if mode == "cdc" else None
    window = plan_window(planned, checkpoint, utc_now())
    ref = engine.ensure_task(window.spec)
    engine.start_task(ref, choose_start_type(engine.describe_tasks([ref])[ref.identifier].status, mode))
    status = wait(engine, ref)
    assert status.status == "stopped", status.last_failure_message
    replication = ReplicationResult(
        database=entry.name,
        task=ref,
        start_type="start-replication",
        status=status,
        tables=tuple(engine.table_statistics(ref)),
        seconds=0.0,
    )
    if ref.migration_type == "cdc":
        report = verify_changes(lake, entry.name, replication.tables, change_window(status))
        known = source_keys(entry)
        tables = tuple(
            warehouse.merge_changes(
                entry.name, t, lake, batch_id, merge_key(entry, known, t.schema_name, t.table), entry.default_schema
            )
            for t in report.loadable_tables
        )
    else:
        report = verify_database(lake, entry.name, replication.tables)
        tables = tuple(warehouse.load_full(entry.name, t, lake, batch_id, entry.default_schema) for t in report.tables)
    load = LoadResult(database=entry.name, batch_id=batch_id, tables=tables, seconds=0.0)
    written = checkpoint_after(replication, load, batch_id, utc_now())
    if written is not None and write_checkpoint:
        store.write(written)
    return Cycle(replication, report, load)

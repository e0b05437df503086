"""Tables load in parallel within the warehouse limit, shared by the process; one writer per target."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sqlfleet.catalog import parse_catalog, render_catalog
from sqlfleet.engines.local import LocalEngine
from sqlfleet.errors import TransientError, WarehouseError
from sqlfleet.lake import Lake
from sqlfleet.plan import DatabasePlan, build_plan
from sqlfleet.runtime import Runtime
from sqlfleet.settings import Settings
from sqlfleet.verify import VerifiedTable, VerifyReport
from sqlfleet.warehouses.base import LoadedTable
from sqlfleet.warehouses.duckdb import DuckDBWarehouse
from sqlfleet.warehouses.locks import TargetLocks
from tasks.load import run_tables

LOG = logging.getLogger("test")


class Gauge:
    """Counts calls in flight and remembers the most at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.active = 0
        self.most = 0

    def __enter__(self) -> None:
        with self._lock:
            self.active += 1
            self.most = max(self.most, self.active)

    def __exit__(self, *_: object) -> None:
        with self._lock:
            self.active -= 1


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    lake = Lake.from_url(f"file://{tmp_path / 'lake'}")
    settings = Settings(warehouse_concurrency=2, lake_url=lake.url)
    with Runtime(settings, lake, LocalEngine(lake), DuckDBWarehouse(tmp_path / "w.duckdb")) as rt:
        yield rt


def plan_for(tmp_path: Path, name: str = "sales") -> DatabasePlan:
    text = render_catalog([{"name": name, "enabled": True, "source": "sqlite:///sources/x.db"}])
    catalog = parse_catalog(text, "test", tmp_path, check_sources=False)
    return build_plan(catalog.databases, "full-load", max_file_size_kb=1024, timestamp_column="_dms_ts").databases[0]


def report(n: int, database: str = "sales") -> VerifyReport:
    tables = tuple(
        VerifiedTable(schema_name="dbo", table=f"t{i}", expected_rows=1, footer_rows=1, files=(), bytes=0, ok=True)
        for i in range(n)
    )
    return VerifyReport(database=database, tables=tables, problems=())


def loaded(table: VerifiedTable) -> LoadedTable:
    return LoadedTable(
        schema_name=table.schema_name,
        table=table.table,
        target=table.table,
        rows=1,
        files=0,
        bytes=0,
        status="loaded",
        seconds=0.0,
    )


def test_tables_load_in_parallel_up_to_the_limit_in_table_order(runtime: Runtime, tmp_path: Path) -> None:
    gauge = Gauge()

    def load_one(table: VerifiedTable) -> LoadedTable:
        with gauge:
            time.sleep(0.05)
        return loaded(table)

    results = run_tables(report(6), plan_for(tmp_path), runtime, load_one, LOG)

    assert [r.table for r in results] == [f"t{i}" for i in range(6)]
    assert gauge.most == 2


def test_the_limit_is_shared_by_databases_loading_at_once(runtime: Runtime, tmp_path: Path) -> None:
    gauge = Gauge()

    def load_one(table: VerifiedTable) -> LoadedTable:
        with gauge:
            time.sleep(0.03)
        return loaded(table)

    threads = [
        threading.Thread(target=run_tables, args=(report(4, db), plan_for(tmp_path, db), runtime, load_one, LOG))
        for db in ("alpha", "beta", "gamma")
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert gauge.most == 2


def test_transient_errors_are_retried_terminal_ones_fail_only_their_table(
    runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(time, "sleep", lambda _s: None)
    attempts: dict[str, int] = {}

    def load_one(table: VerifiedTable) -> LoadedTable:
        attempts[table.table] = attempts.get(table.table, 0) + 1
        if table.table == "t0" and attempts["t0"] == 1:
            raise TransientError("lock held")
        if table.table == "t1":
            raise WarehouseError("t1: Numeric value 'x' is not recognized")
        if table.table == "t2":
            raise TransientError("still locked")
        return loaded(table)

    results = run_tables(report(4), plan_for(tmp_path), runtime, load_one, LOG)

    assert [r.status for r in results] == ["loaded", "failed", "failed", "loaded"]
    assert attempts == {"t0": 2, "t1": 1, "t2": 3, "t3": 1}
    assert results[1].error == "t1: Numeric value 'x' is not recognized"


def test_one_writer_per_target() -> None:
    locks = TargetLocks(timeout_seconds=5)
    gauge = Gauge()

    def write(target: str) -> None:
        with locks.hold("sales", target), gauge:
            time.sleep(0.03)

    same = [threading.Thread(target=write, args=("orders",)) for _ in range(4)]
    for t in same:
        t.start()
    for t in same:
        t.join()
    assert gauge.most == 1

    gauge.most = 0
    others = [threading.Thread(target=write, args=(f"t{i}",)) for i in range(4)]
    for t in others:
        t.start()
    for t in others:
        t.join()
    assert gauge.most > 1


def test_waiting_for_a_busy_target_has_a_deadline() -> None:
    locks = TargetLocks(timeout_seconds=0.05)
    with locks.hold("sales", "orders"):
        errors: list[Exception] = []

        def wait() -> None:
            try:
                with locks.hold("sales", "orders"):
                    pass
            except TransientError as exc:
                errors.append(exc)

        t = threading.Thread(target=wait)
        t.start()
        t.join()
    assert len(errors) == 1 and "sales.orders is still being written" in str(errors[0])


def test_reconcile_keeps_the_ledger_and_fails_a_table_whose_counts_disagree(runtime: Runtime) -> None:
    from sqlfleet.report import LoadResult
    from tasks.load import reconcile

    verified = report(2)
    agreeing = loaded(verified.tables[0])
    # the warehouse holds 5 rows where the footers hold 1 (someone wrote into the table)
    disagreeing = loaded(verified.tables[1]).model_copy(update={"rows": 5, "status": "unchanged"})
    result = LoadResult(database="sales", batch_id="b1", tables=(agreeing, disagreeing), seconds=0.1)

    reconciled = reconcile(verified, result, runtime)

    assert [t.status for t in reconciled.tables] == ["loaded", "failed"]
    assert reconciled.tables[1].error is not None and "holds 5 rows, the footers 1" in reconciled.tables[1].error
    assert [e.status for e in reconciled.ledger] == ["ok", "mismatch"]
    assert isinstance(runtime.warehouse, DuckDBWarehouse)
    stored = runtime.warehouse.ledger_rows()
    assert [(r["target"], r["status"], r["warehouse_rows"]) for r in stored] == [("t0", "ok", 1), ("t1", "mismatch", 5)]

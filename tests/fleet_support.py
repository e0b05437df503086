"""Fleet runs with instrumented engines and warehouses, for the flow-level tests."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from prefect import flow
from prefect.states import State
from prefect.task_runners import ThreadPoolTaskRunner

from flows.pipeline import Adapters, FleetRequest, run_fleet
from sqlfleet.catalog import render_catalog
from sqlfleet.testing.instant import InstantEngine
from sqlfleet.warehouses.base import Warehouse
from sqlfleet.warehouses.duckdb import DuckDBWarehouse

#: Engines by key: a flow's parameters must be JSON, so the test flow looks its engine up here.
ENGINES: dict[str, InstantEngine] = {}
#: Runs that must start together: each waits here when it opens its engine.
STARTS: dict[str, threading.Barrier] = {}


def open_probe(engine: str) -> InstantEngine:
    if engine in STARTS:
        STARTS[engine].wait()
    return ENGINES[engine]


#: Warehouses by key, for flows that use one other than a DuckDB file.
WAREHOUSES: dict[str, Warehouse] = {}


@flow(name="sqlfleet-probe", task_runner=ThreadPoolTaskRunner(max_workers=64))  # type: ignore[arg-type]
def probe_fleet(catalog_path: str, engine: str, run_key: str, warehouse: str, only_failed: bool = False) -> State:
    """The fleet's orchestration with an instrumented engine (and a warehouse of its own:
    a DuckDB file, or one of ``WAREHOUSES``)."""
    adapters = Adapters(
        open_engine=lambda settings, lake: open_probe(engine),
        open_warehouse=lambda settings: WAREHOUSES.get(warehouse) or DuckDBWarehouse(Path(warehouse)),
    )
    return run_fleet(FleetRequest(catalog_path=catalog_path, run_key=run_key, only_failed=only_failed), adapters)


def tiny_fleet(folder: Path, names: list[str]) -> Path:
    """A catalog of ``names``, each with a one-table SQLite source (the instant engine never reads it)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        con = sqlite3.connect(folder / f"{name}.db")
        con.execute("CREATE TABLE t (id int)")
        con.close()
    catalog = folder / "catalog.yaml"
    catalog.write_text(render_catalog([{"name": n, "enabled": True, "source": f"sqlite:///{n}.db"} for n in names]))
    return catalog


def create_limit(name: str, size: int) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate

    with get_client(sync_client=True) as client:
        client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=size))


def manifest_batches(warehouse: Path) -> dict[str, set[str]]:
    """The load batches the DuckDB warehouse file's manifest holds, by database."""
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = con.execute('SELECT DISTINCT "database", "batch_id" FROM "_sqlfleet"."load_manifest"').fetchall()
    finally:
        con.close()
    found: dict[str, set[str]] = {}
    for database, batch in rows:
        found.setdefault(database, set()).add(batch)
    return found

"""Orchestration overhead per database: the fleet flow on Prefect against a plain loop, same run.

250 databases of 40 empty tables each go through a zero-cost engine and warehouse
(``sqlfleet.testing.instant``: tasks stop at once and report real, empty statistics; nothing is
written, so verification lists an empty prefix; the warehouse answers as DuckDB does for empty
tables without touching storage), so what is left is orchestration. Three ways, each on a fresh
lake:

- ``plain``: the baseline. A plain loop calls the same step functions (``replicate``,
  ``verify_replication.fn``, ``load``) database after database, no Prefect, in-process limits;
- ``prefect``: the fleet flow's orchestration (``flows.pipeline.run_fleet``) on a local Prefect
  server: task runs, artifacts, the run journal and history, and Prefect global concurrency limits
  held strictly with leases, as in production;
- ``prefect-local-limits``: the same flow with in-process limits instead of Prefect's, to show how
  much of the overhead is acquiring slots (reference/prefect.md §3: on a SQLite server an
  acquisition racing other writes gets a 503 and the client backs off 2 s). The run holds slots in
  lanes acquired once and reused database after database (``flows/lanes.py``), so the figure
  counts acquisitions per run, not per database.

Overhead per database = (flow wall time - plain wall time) / databases, from each side's median of
``--repeats`` runs (3; sides alternate); target < 50 ms.
Run: ``python -m bench.orchestration [--databases 250] [--limit 16] [--repeats 3] [--prefect-database-url URL]``;
with a URL (``postgresql+asyncpg://...``) the Prefect sides run on a server backed by that database
(its tables reset) and the figures are recorded with a ``_postgres`` suffix.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

from bench.results import Figure, print_table, record
from sqlfleet.limits import Lane, LaneOpener, LaneReady

TABLES = 40
INSTANCE = "bench"
TARGET_MS = 50.0


class ProcessLane:
    """A lane on an in-process semaphore: a limit that holds within this process only."""

    def __init__(self, name: str, semaphore: threading.BoundedSemaphore, on_ready: LaneReady) -> None:
        self._name = name
        self._semaphore = semaphore
        self._on_ready = on_ready
        self._released = threading.Event()
        self._thread = threading.Thread(target=self._hold, daemon=True)
        self._thread.start()

    @property
    def name(self) -> str:
        """The limit."""
        return self._name

    def release(self) -> None:
        """Give the slot back."""
        self._released.set()

    def join(self, timeout: float) -> bool:
        """Wait until the slot is back."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _hold(self) -> None:
        with self._semaphore:
            if not self._released.is_set():
                self._on_ready(self, None)
                self._released.wait()


def process_lanes(sizes: dict[str, int]) -> LaneOpener:
    """Lanes on one semaphore per limit."""
    semaphores = {name: threading.BoundedSemaphore(size) for name, size in sizes.items()}
    return lambda name, on_ready: ProcessLane(name, semaphores[name], on_ready)


class TimedLanes:
    """Opens another opener's lanes and measures how long each takes to be held."""

    def __init__(self, inner: LaneOpener) -> None:
        self.inner = inner
        self.waits: list[float] = []
        self._lock = threading.Lock()

    def __call__(self, name: str, on_ready: LaneReady) -> Lane:
        """Open a lane of the inner opener, timing its acquisition."""
        began = time.perf_counter()

        def timed(lane: Lane, error: BaseException | None) -> None:
            with self._lock:
                self.waits.append(time.perf_counter() - began)
            on_ready(lane, error)

        return self.inner(name, timed)


def make_fleet(folder: Path, databases: int) -> tuple[Path, list[str]]:
    """``databases`` copies of a one-table SQLite file and their catalog (the engine never reads them)."""
    from sqlfleet.catalog import render_catalog

    sources = folder / "sources"
    sources.mkdir(parents=True)
    template = sources / "db0000.db"
    con = sqlite3.connect(template)
    con.execute("CREATE TABLE t (id int)")
    con.close()
    names = [f"db{i:04d}" for i in range(databases)]
    for name in names[1:]:
        shutil.copyfile(template, sources / f"{name}.db")
    catalog = folder / "catalog.yaml"
    catalog.write_text(
        render_catalog([{"name": n, "enabled": True, "source": f"sqlite:///sources/{n}.db"} for n in names])
    )
    return catalog, names


def use_fresh_lake(folder: Path, side: str) -> None:
    """Point the settings at a lake of its own for one side."""
    os.environ["SQLFLEET_LAKE_URL"] = f"file://{folder / side / 'lake'}"


def plain_loop(catalog_path: Path) -> float:
    """The baseline: the same steps, one database after another, no Prefect; wall seconds."""
    from prefect.logging import disable_run_logger

    from sqlfleet.catalog import load_catalog
    from sqlfleet.lake import Lake
    from sqlfleet.plan import build_plan
    from sqlfleet.runtime import Runtime
    from sqlfleet.settings import Settings
    from sqlfleet.testing.instant import InstantEngine, InstantWarehouse
    from tasks.replicate import replicate
    from tasks.verify import verify_replication
    from tasks.warehouse_load import load

    logger = logging.getLogger("bench.orchestration")
    began = time.perf_counter()
    settings = Settings(catalog_path=catalog_path)
    lake = Lake.from_settings(settings)
    engine = InstantEngine(tables=TABLES, instance=INSTANCE)
    with Runtime(settings, lake, engine, InstantWarehouse()) as runtime, disable_run_logger():
        catalog = load_catalog(catalog_path)
        plan = build_plan(catalog.databases, "full-load", max_file_size_kb=1024, timestamp_column="_dms_ts")
        for database in plan.databases:
            replication = replicate(database, runtime, logger)
            report = verify_replication.fn(replication, runtime)
            result = load(report, database, runtime, "plain")
            assert not result.failed, result
    return time.perf_counter() - began


def prefect_flow(catalog_path: Path, lanes: LaneOpener) -> float:
    """The fleet flow's orchestration with the zero-cost engine; wall seconds of the flow call."""
    from prefect import flow
    from prefect.task_runners import ThreadPoolTaskRunner

    from flows.pipeline import FLEET_THREADS, Adapters, FleetRequest, run_fleet
    from sqlfleet.testing.instant import InstantEngine, InstantWarehouse

    engine = InstantEngine(tables=TABLES, instance=INSTANCE)
    adapters = Adapters(
        open_engine=lambda settings, lake: engine,
        open_warehouse=lambda settings: InstantWarehouse(),
        lanes=lambda settings: lanes,
    )

    @flow(name="sqlfleet-bench", task_runner=ThreadPoolTaskRunner(max_workers=FLEET_THREADS))  # type: ignore[arg-type]
    def bench_fleet(catalog: str, run_key: str) -> object:
        return run_fleet(FleetRequest(catalog_path=catalog, run_key=run_key), adapters)

    began = time.perf_counter()
    state = bench_fleet(str(catalog_path), f"bench-{time.time_ns()}", return_state=True)
    seconds = time.perf_counter() - began
    if not state.is_completed():
        raise RuntimeError(f"the benchmark fleet did not complete: {state.message}")
    return seconds


def create_limits(limit: int) -> None:
    """The engine limit of the benchmark's instance and the warehouse limit, sized ``limit``."""
    from prefect.client.orchestration import get_client

    from deployments.setup import apply_limits
    from sqlfleet.limits import desired_limits

    with get_client(sync_client=True) as client:
        specs = desired_limits(instances=[INSTANCE], tasks_per_instance=limit, warehouse_statements=limit)
        apply_limits(client, specs, dry_run=False)


RESULT_PREFIX = "BENCH_RESULT "
SIDES = ("plain", "prefect", "prefect-local-limits")


@contextlib.contextmanager
def prefect_server_on(database_url: str) -> Iterator[None]:
    """A Prefect server subprocess on ``database_url`` (its tables reset first), as
    ``prefect_test_harness`` starts one on a temporary SQLite file; for a Postgres-backed run."""
    import subprocess

    from prefect.server.api.server import SubprocessASGIServer
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_DATABASE_CONNECTION_URL, temporary_settings

    env = {**os.environ, "PREFECT_SERVER_DATABASE_CONNECTION_URL": database_url}
    prefect = Path(sys.executable).with_name("prefect")
    subprocess.run([str(prefect), "server", "database", "reset", "-y"], env=env, check=True, capture_output=True)
    with temporary_settings(updates={PREFECT_SERVER_DATABASE_CONNECTION_URL: database_url}):
        server = SubprocessASGIServer()
        server.start(timeout=90)
        try:
            with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
                yield
        finally:
            server.stop()


def run_side(side: str, databases: int, limit: int, database_url: str | None = None) -> dict[str, float]:
    """One side in this process: its wall seconds (and slot acquisitions for ``prefect``)."""
    import json

    os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="sqlfleet-bench-prefect-"))
    folder = Path(tempfile.mkdtemp(prefix="sqlfleet-bench-orchestration-"))
    os.environ.update(
        {
            "SQLFLEET_POLL_INTERVAL_SECONDS": "0.01",
            "SQLFLEET_DATABASE_CONCURRENCY": str(2 * limit),
            "SQLFLEET_ENABLED_VARIABLE": "sqlfleet_bench_enabled",
            "SQLFLEET_PROGRESS_EVERY_SECONDS": "5",
            "SQLFLEET_LAKE_URL": f"file://{folder / 'lake'}",
        }
    )
    try:
        catalog, _ = make_fleet(folder, databases)
        result: dict[str, float] = {}
        if side == "plain":
            result["seconds"] = plain_loop(catalog)
        else:
            from prefect.testing.utilities import prefect_test_harness

            from sqlfleet.limits import WAREHOUSE_LIMIT, engine_limit_name
            from tasks.limits import prefect_lanes

            harness = prefect_test_harness(server_startup_timeout=90) if database_url is None else None
            with harness or prefect_server_on(database_url or ""):
                create_limits(limit)
                if side == "prefect":
                    timed = TimedLanes(prefect_lanes(lease_seconds=300))
                    result["seconds"] = prefect_flow(catalog, timed)
                    result["acquisitions"] = len(timed.waits)
                    result["acquisition_seconds"] = sum(timed.waits)
                else:
                    sizes = {engine_limit_name(INSTANCE): limit, WAREHOUSE_LIMIT: limit}
                    result["seconds"] = prefect_flow(catalog, process_lanes(sizes))
        print(RESULT_PREFIX + json.dumps(result), flush=True)
        return result
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run_in_child(side: str, databases: int, limit: int, database_url: str | None = None) -> dict[str, float]:
    """``run_side`` in a fresh Python process (its own Prefect server, no state from another side)."""
    import json
    import subprocess

    command = [sys.executable, "-m", "bench.orchestration", "--side", side]
    command += ["--databases", str(databases), "--limit", str(limit)]
    if database_url:
        command += ["--prefect-database-url", database_url]
    done = subprocess.run(command, capture_output=True, text=True, timeout=1800, check=False)
    for line in done.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            return dict(json.loads(line[len(RESULT_PREFIX) :]))
    raise RuntimeError(f"side {side} failed (exit {done.returncode}): {done.stderr[-2000:]}")


def main(argv: list[str] | None = None) -> int:
    """Each side in a child process of its own, then the figures."""
    parser = argparse.ArgumentParser(prog="python -m bench.orchestration", description=__doc__)
    parser.add_argument("--databases", type=int, default=250)
    parser.add_argument("--limit", type=int, default=16, help="engine and warehouse limit sizes")
    parser.add_argument("--side", choices=SIDES, help="run one side here (used by the parent run)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each side; the median run counts")
    parser.add_argument(
        "--prefect-database-url",
        help="run the Prefect server on this database (e.g. postgresql+asyncpg://user@host:5432/db; its tables "
        "are reset) instead of a temporary SQLite file",
    )
    args = parser.parse_args(argv)
    url = args.prefect_database_url
    if args.side:
        run_side(args.side, args.databases, args.limit, url)
        return 0
    runs: dict[str, list[dict[str, float]]] = {side: [] for side in SIDES}
    for _ in range(args.repeats):  # sides alternate, so a noisy minute falls on every side
        for side in SIDES:
            runs[side].append(run_in_child(side, args.databases, args.limit, url))
    # Per side, the run of median wall time (its acquisitions with it).
    results = {side: sorted(found, key=lambda r: r["seconds"])[len(found) // 2] for side, found in runs.items()}
    if args.repeats > 1:
        for side, found in runs.items():
            print(f"{side}: " + ", ".join(f"{r['seconds']:.1f} s" for r in found))
    n = args.databases
    per_db = {side: 1000 * r["seconds"] / n for side, r in results.items()}
    overhead = per_db["prefect"] - per_db["plain"]
    overhead_local = per_db["prefect-local-limits"] - per_db["plain"]
    acquisitions = int(results["prefect"]["acquisitions"])
    mean_wait = 1000 * results["prefect"]["acquisition_seconds"] / max(acquisitions, 1)
    figures = {
        "orchestration_overhead_per_database": Figure(
            value=round(overhead, 1),
            unit="ms/database",
            baseline=round(per_db["plain"], 1),
            ratio=round(per_db["prefect"] / per_db["plain"], 2),
            target=f"< {TARGET_MS:.0f} ms",
            passed=overhead < TARGET_MS,
        ),
        "orchestration_overhead_per_database_in_process_limits": Figure(
            value=round(overhead_local, 1),
            unit="ms/database",
            baseline=round(per_db["plain"], 1),
            ratio=round(per_db["prefect-local-limits"] / per_db["plain"], 2),
            target="report",
            passed=None,
        ),
        "orchestration_gcl_slot_acquisitions": Figure(
            value=acquisitions,
            unit=f"acquisitions for {n} databases (mean {mean_wait:.0f} ms each)",
            baseline=None,
            ratio=None,
            target="report",
            passed=None,
        ),
    }
    print(
        f"{n} databases × {TABLES} empty tables, limits {args.limit}: plain loop {results['plain']['seconds']:.1f} s, "
        f"fleet flow {results['prefect']['seconds']:.1f} s with Prefect limits ({acquisitions} slot acquisitions, "
        f"mean {mean_wait:.0f} ms), {results['prefect-local-limits']['seconds']:.1f} s with in-process limits"
    )
    suffix = " on a Postgres-backed Prefect server" if url else ""
    if url:  # its own figures: the target is defined on the default (SQLite) server
        figures = {f"{name}_postgres": figure for name, figure in figures.items()}
    print_table(figures, f"Orchestration overhead (bench.orchestration){suffix}")
    record(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

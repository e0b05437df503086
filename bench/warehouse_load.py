"""Warehouse load benchmark: the DuckDB warehouse against one plain CTAS per table, same files, same run.

The lake is the demo fleet (``generate_fleet`` + the embedded engine), generated once under
``bench/data/warehouse/`` and reused while its parameters and the generator's code are unchanged.
Both sides load every table of every database into a fresh DuckDB file:

- sqlfleet: ``DuckDBWarehouse.load_full`` per verified table, i.e. the schema check, the atomic
  replace, the row-count check against the footers and the manifest rows, one transaction each;
- baseline: ``CREATE TABLE <schema>.<table> AS SELECT * FROM read_parquet([files])``, one statement
  per table and nothing else.

The sides alternate table by table, over ``BENCH_REPEATS`` (default 3) repetitions after one
warm-up, and the figures are medians (the machine is shared; only the ratio means anything).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import duckdb

from bench.results import Figure, print_table, record
from sqlfleet.demo.generate import generate_fleet
from sqlfleet.engines.base import TaskSpec
from sqlfleet.engines.local import LocalEngine
from sqlfleet.lake import Lake
from sqlfleet.sql.identifiers import qualified_name, quote_identifier, quote_literal
from sqlfleet.verify import VerifiedTable, verify_database
from sqlfleet.warehouses.duckdb import DuckDBWarehouse

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "bench" / "data" / "warehouse"
MAX_RATIO = 1.3
PARAMS = {"databases": 3, "seed": 7, "scale": 1.0}
_GENERATOR_SOURCES = ("sqlfleet/demo/generate.py", "sqlfleet/demo/schema.py", "sqlfleet/engines/local.py")

Tables = dict[str, list[VerifiedTable]]


def _fingerprint() -> str:
    digest = hashlib.sha256(json.dumps(PARAMS, sort_keys=True).encode())
    for name in _GENERATOR_SOURCES:
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()[:16]


def prepare_lake() -> tuple[Lake, Tables]:
    """The demo lake (generated unless the marker matches) and every database's verified tables."""
    lake_dir, marker = DATA_DIR / "lake", DATA_DIR / "lake.params.json"
    lake = Lake.from_url(f"file://{lake_dir}")
    saved = json.loads(marker.read_text()) if marker.is_file() else {}
    if saved.get("fingerprint") != _fingerprint():
        print(f"generating the demo lake in {lake_dir} ...", flush=True)
        shutil.rmtree(lake_dir, ignore_errors=True)
        lake = Lake.from_url(f"file://{lake_dir}")
        generated = generate_fleet(DATA_DIR / "sources", int(PARAMS["databases"]), int(PARAMS["seed"]), PARAMS["scale"])
        engine = LocalEngine(lake, workers=os.cpu_count() or 1)
        stats = {}
        for g in generated:
            ref = engine.ensure_task(TaskSpec(database=g.name, source_url=f"sqlite:///{g.path}"))
            engine.start_task(ref, "start-replication")
            deadline = time.monotonic() + 1800
            while engine.describe_tasks([ref])[ref.identifier].status not in {"stopped", "failed"}:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"replicating {g.name} took more than 30 minutes")
                time.sleep(0.2)
            stats[g.name] = [s.model_dump(mode="json") for s in engine.table_statistics(ref)]
        marker.write_text(json.dumps({"fingerprint": _fingerprint(), "stats": stats}, indent=2) + "\n")
        saved = json.loads(marker.read_text())
    from sqlfleet.engines.base import TableStatistics

    tables: Tables = {}
    for database, raw in saved["stats"].items():
        report = verify_database(lake, database, [TableStatistics(**s) for s in raw])
        if not report.ok:
            raise RuntimeError(f"{database}: the benchmark lake does not verify: {report.problems}")
        tables[database] = [t for t in report.loadable_tables if t.files]
    return lake, tables


def run_pair(lake: Lake, tables: Tables, work: Path) -> tuple[float, float]:
    """Seconds for both sides to load every table into fresh files: ``(sqlfleet, baseline)``.

    The sides alternate table by table (who goes first alternates too), so a noisy neighbour on
    the shared machine slows both sides alike instead of whichever run it happened to hit.
    """
    ours_path, base_path = work / "sqlfleet.duckdb", work / "baseline.duckdb"
    for path in (ours_path, base_path):
        path.unlink(missing_ok=True)
        Path(f"{path}.wal").unlink(missing_ok=True)
    ours = base = 0.0
    started = time.perf_counter()
    warehouse = DuckDBWarehouse(ours_path)
    ours += time.perf_counter() - started
    started = time.perf_counter()
    con = duckdb.connect(str(base_path), config={"extension_directory": str(work / ".duckdb_extensions")})
    base += time.perf_counter() - started
    try:
        for database in tables:
            started = time.perf_counter()
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_identifier(database)}")
            base += time.perf_counter() - started
        jobs = [(database, table) for database, verified in tables.items() for table in verified]
        for i, (database, table) in enumerate(jobs):
            for side in ("sqlfleet", "baseline") if i % 2 == 0 else ("baseline", "sqlfleet"):
                started = time.perf_counter()
                if side == "sqlfleet":
                    result = warehouse.load_full(database, table, lake, "bench")
                    ours += time.perf_counter() - started
                    if result.status != "loaded":
                        raise RuntimeError(f"{database}.{table.name}: {result.status}")
                else:
                    files = ", ".join(quote_literal(lake.path(f.key)) for f in table.files)
                    con.execute(
                        f"CREATE TABLE {qualified_name(database, table.table)} AS SELECT * FROM read_parquet([{files}])"
                    )
                    base += time.perf_counter() - started
    finally:
        started = time.perf_counter()
        warehouse.close()
        ours += time.perf_counter() - started
        started = time.perf_counter()
        con.close()
        base += time.perf_counter() - started
    return ours, base


def run_benchmark(repeats: int) -> dict[str, Figure]:
    """Measure both sides ``repeats`` times (alternating, after a warm-up) and record the figures."""
    lake, tables = prepare_lake()
    work = DATA_DIR / "work"
    work.mkdir(parents=True, exist_ok=True)
    n_tables = sum(len(v) for v in tables.values())
    n_files = sum(len(t.files) for v in tables.values() for t in v)
    rows = sum(t.footer_rows for v in tables.values() for t in v)
    print(f"{len(tables)} databases, {n_tables} tables, {n_files} files, {rows:,} rows", flush=True)
    run_pair(lake, tables, work)  # warm-up: page cache, DuckDB's first-use costs
    ours: list[float] = []
    base: list[float] = []
    for _ in range(repeats):
        mine, theirs = run_pair(lake, tables, work)
        ours.append(mine)
        base.append(theirs)
        print(f"  sqlfleet {mine:.2f} s, baseline {theirs:.2f} s", flush=True)
    value, baseline = statistics.median(ours), statistics.median(base)
    ratio = value / baseline
    figures = {
        "warehouse_load_duckdb_seconds": Figure(
            value=round(value, 3),
            unit="s",
            baseline=round(baseline, 3),
            ratio=round(ratio, 3),
            target=f"≤ {MAX_RATIO}",
            passed=ratio <= MAX_RATIO,
        ),
        "warehouse_load_duckdb_rows_per_second": Figure(
            value=round(rows / value),
            unit="rows/s",
            baseline=round(rows / baseline),
            ratio=None,
            target="report",
            passed=None,
        ),
    }
    print_table(figures, title="DuckDB warehouse load vs one CTAS per table (medians)")
    record(figures)
    shutil.rmtree(work, ignore_errors=True)
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; the exit code is non-zero when a target is missed."""
    parser = argparse.ArgumentParser(prog="python -m bench.warehouse_load", description=__doc__.split("\n")[0])
    parser.parse_args(argv)
    figures = run_benchmark(int(os.environ.get("BENCH_REPEATS", "3")))
    return 0 if all(f.passed is not False for f in figures.values()) else 1


if __name__ == "__main__":
    sys.exit(main())

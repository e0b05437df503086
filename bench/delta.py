"""Delta cost against full-load cost on the same database after changing 1% of its rows.

One repeat, on a fresh copy of a captured demo database (``--scale``, default 10: ~1.3M rows):

1. full load: a ``full-load-and-cdc`` task (records the position), footer verification and
   ``load_full`` of every table into a new DuckDB warehouse: the baseline;
2. a batch of changes on ~1% of the database's rows, in a few tables (``sqlfleet demo mutate``'s
   batch, sized so inserts + updates + deletes ≈ 1% of all rows);
3. delta: a ``cdc`` task from the recorded position, CDC verification and ``merge_changes``
   of every table: the measured value.

Each side ends with a DuckDB ``CHECKPOINT`` inside its timing, so both have written their work
into the database file (see ``_window``).

The delta must take under 10% of the full load's wall time and write CDC files only under the
changed tables' folders (and merge only those). After every repeat each warehouse table is
compared with its source row by row; a difference fails the benchmark. Figures are medians over
``BENCH_REPEATS`` repeats (default 3) and go to ``bench/results.json``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.results import Figure, format_table, print_table, record

MAX_TIME_RATIO = 0.10
CHANGED_SHARE = 0.01
SEED = 5


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _window(engine: Any, lake: Any, warehouse: Any, entry: Any, mode: str, *, start: str | None) -> dict[str, Any]:
    """Replicate, verify and load one database in ``mode``; wall time and what it touched."""
    from sqlfleet.cdc.delta import change_window
    from sqlfleet.cdc.positions import stop_position
    from sqlfleet.cdc.source_info import merge_key, source_keys
    from sqlfleet.plan import task_spec_for
    from sqlfleet.verify import verify_changes, verify_database

    spec = task_spec_for(entry, mode, max_file_size_kb=1_048_576, timestamp_column="_dms_ts")  # type: ignore[arg-type]
    if mode == "cdc":
        spec = spec.model_copy(update={"cdc_start_position": start, "cdc_stop_position": stop_position(_now())})
    began = time.perf_counter()
    ref = engine.ensure_task(spec)
    engine.start_task(ref, "start-replication")
    while (status := engine.describe_tasks([ref])[ref.identifier]).status not in {"stopped", "failed"}:
        time.sleep(0.01)
    if status.status == "failed":
        raise SystemExit(f"{mode} task failed: {status.last_failure_message}")
    stats = engine.table_statistics(ref)
    if mode == "cdc":
        report = verify_changes(lake, entry.name, stats, change_window(status))
        replicated = time.perf_counter() - began
        keys = source_keys(entry)
        loaded = [
            warehouse.merge_changes(entry.name, t, lake, "bench", merge_key(entry, keys, t.schema_name, t.table))
            for t in report.tables
        ]
    else:
        report = verify_database(lake, entry.name, stats)
        replicated = time.perf_counter() - began
        loaded = [warehouse.load_full(entry.name, t, lake, "bench") for t in report.tables]
    # Both sides end with their work in the database file, not only in DuckDB's WAL: a full
    # load's big commits checkpoint on their own (checkpoint_threshold), a delta's small ones
    # leave it to the next checkpoint, which would otherwise be paid outside the timing.
    settled = time.perf_counter()
    warehouse.query("CHECKPOINT")
    ended = time.perf_counter()
    seconds = ended - began
    if not report.ok or any(t.status == "failed" for t in loaded):
        raise SystemExit(f"{mode}: verification or load failed: {report.problems} {[t.error for t in loaded]}")
    return {
        "seconds": seconds,
        "replicate_seconds": replicated,
        "load_seconds": seconds - replicated,
        "checkpoint_seconds": ended - settled,
        "position": status.recovery_checkpoint,
        "tables_with_files": {t.table for t in report.tables if t.files},
        "tables_loaded": {t.table for t in loaded if t.status == "loaded"},
        "bytes": sum(t.bytes for t in report.tables),
    }


def run_repeat(master: Path, work: Path, fraction: float) -> dict[str, Any]:
    """One full load → 1% changes → delta on a fresh copy of ``master``; checked row by row."""
    from sqlfleet.catalog_models import DatabaseEntry
    from sqlfleet.demo.check import compare_database
    from sqlfleet.demo.mutate import mutate_database
    from sqlfleet.engines.local import LocalEngine
    from sqlfleet.lake import Lake
    from sqlfleet.warehouses.duckdb import DuckDBWarehouse

    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    source = work / "sales.db"
    shutil.copyfile(master, source)
    entry = DatabaseEntry.model_validate({"name": "sales", "enabled": True, "source": f"sqlite:///{source}"})
    lake = Lake.from_url(f"file://{work / 'lake'}")
    engine = LocalEngine(lake, workers=max(1, os.cpu_count() or 1))
    with DuckDBWarehouse(work / "wh.duckdb") as warehouse:
        full = _window(engine, lake, warehouse, entry, "full-load-and-cdc", start=None)
        batch = mutate_database(source, seed=SEED, fraction=fraction)
        delta = _window(engine, lake, warehouse, entry, "cdc", start=full["position"])
        different = [r for r in compare_database(source, warehouse, "sales", include_views=False) if not r.equal]
    if different:
        raise SystemExit(f"the warehouse differs from the source after the delta: {[r.table for r in different]}")
    changed = {t.table for t in batch.tables if t.total}
    return {"full": full, "delta": delta, "changes": batch.total, "changed_tables": changed}


def run_benchmark(repeats: int, scale: float) -> dict[str, Figure]:
    """Generate and capture the database once, run the repeats, report and record the figures."""
    from sqlfleet.catalog_models import DatabaseEntry
    from sqlfleet.cdc.enable import enable_for_entry
    from sqlfleet.demo.generate import generate_database
    from sqlfleet.demo.mutate import MUTATED_TABLES

    started = time.perf_counter()
    root = Path(tempfile.mkdtemp(prefix="sqlfleet-bench-delta-"))
    try:
        generated = generate_database(root / "master.db", seed=SEED, scale=scale)
        entry = DatabaseEntry.model_validate(
            {"name": "sales", "enabled": True, "source": f"sqlite:///{generated.path}"}
        )
        enable_for_entry(entry, _now())
        total = generated.total_rows
        in_mutated = sum(generated.tables[t] for t in MUTATED_TABLES)
        # the batch changes ~1.75 rows per updated row (updates f, inserts f/2, deletes f/4)
        fraction = CHANGED_SHARE * total / (1.75 * in_mutated)
        print(f"database: {len(generated.tables)} tables, {total:,} rows; batch fraction {fraction:.4f}", flush=True)
        runs = []
        for repeat in range(1, repeats + 1):
            run = run_repeat(generated.path, root / f"run{repeat}", fraction)
            runs.append(run)
            print(
                f"  repeat {repeat}: full load {run['full']['seconds']:.2f} s, delta {run['delta']['seconds']:.2f} s "
                f"({run['changes']:,} changed rows)",
                flush=True,
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    figures = compute_figures(runs, total)
    rows = [
        (str(i), f"{r['full']['replicate_seconds']:.2f} + {r['full']['load_seconds']:.2f}",
         f"{r['delta']['replicate_seconds']:.2f} + {r['delta']['load_seconds']:.2f}", f"{r['changes']:,}",
         ", ".join(sorted(r["delta"]["tables_with_files"])))
        for i, r in enumerate(runs, start=1)
    ]  # fmt: skip
    header = (
        "repeat",
        "full load s (engine+verify + warehouse)",
        "delta s (same)",
        "changed rows",
        "tables with CDC files",
    )
    print("\n" + format_table(rows, header))
    print_table(figures, title=f"delta figures (medians of {repeats} repeats)")
    record(figures)
    print(f"\nwhole benchmark: {time.perf_counter() - started:.1f} s wall")
    return figures


def compute_figures(runs: Sequence[dict[str, Any]], total_rows: int) -> dict[str, Figure]:
    """Delta time against full-load time, and the tables the delta touched against those changed."""
    full = statistics.median(r["full"]["seconds"] for r in runs)
    delta = statistics.median(r["delta"]["seconds"] for r in runs)
    ratio = statistics.median(r["delta"]["seconds"] / r["full"]["seconds"] for r in runs)
    touched = max(len(r["delta"]["tables_with_files"] | r["delta"]["tables_loaded"]) for r in runs)
    changed = min(len(r["changed_tables"]) for r in runs)
    only_changed = all(
        r["delta"]["tables_with_files"] == r["changed_tables"] and r["delta"]["tables_loaded"] <= r["changed_tables"]
        for r in runs
    )
    share = statistics.median(r["changes"] / total_rows for r in runs)
    bytes_ratio = statistics.median(r["delta"]["bytes"] / r["full"]["bytes"] for r in runs)

    def part(key: str) -> Figure:
        value = statistics.median(r["delta"][key] for r in runs)
        base = statistics.median(r["full"][key] for r in runs)
        ratios = [r["delta"][key] / r["full"][key] for r in runs if r["full"][key] > 0]
        return Figure(value, "s", base, statistics.median(ratios) if ratios else None, "report", None)

    # Figure(value, unit, baseline, ratio, target, passed)
    return {
        "delta_seconds_vs_full_load": Figure(delta, "s", full, ratio, f"< {MAX_TIME_RATIO}", ratio < MAX_TIME_RATIO),
        "delta_tables_touched_vs_changed": Figure(
            float(touched), "tables", float(changed), touched / changed, "= 1 (only changed tables)", only_changed
        ),
        # where the time goes: replication + footer verification, then the warehouse (load vs MERGE)
        "delta_replicate_verify_seconds_vs_full_load": part("replicate_seconds"),
        "delta_warehouse_seconds_vs_full_load": part("load_seconds"),
        "delta_checkpoint_seconds_vs_full_load": part("checkpoint_seconds"),
        "delta_changed_rows_share": Figure(share * 100, "% of rows", None, None, "report", None),
        "delta_bytes_vs_full_load": Figure(
            statistics.median(r["delta"]["bytes"] for r in runs),
            "bytes",
            statistics.median(r["full"]["bytes"] for r in runs),
            bytes_ratio,
            "report",
            None,
        ),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; exit code 1 when a target is missed."""
    parser = argparse.ArgumentParser(prog="python -m bench.delta", description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=10.0, help="demo database scale (1.0 = ~133k rows)")
    args = parser.parse_args(argv)
    figures = run_benchmark(int(os.environ.get("BENCH_REPEATS", "3")), args.scale)
    return 0 if all(f.passed is not False for f in figures.values()) else 1


if __name__ == "__main__":
    sys.exit(main())

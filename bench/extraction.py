"""Extraction benchmark: the embedded engine against the fastest plain pipeline, same run.

The baseline is the best single-process pipeline of reference/extraction.md: SQLite through the
ADBC driver into Arrow, pinned SELECT, cast to the target schema, ``pq.ParquetWriter`` (snappy),
100k-row batches, with a reader thread feeding the writing thread through a queue of 3 batches,
tables largest first. It shares only the typing helpers of ``sqlfleet.engines.sqlite_source``
with the engine (so both do the same conversion work), never ``LocalEngine`` or ``Lake``.

Each side runs in a fresh child process (``python -m bench.extraction --run engine|baseline
--db ... --out ...``) that times itself after its imports and reports its peak RSS, so one
side's memory never shows in the other's. Sides alternate order over ``BENCH_REPEATS`` (default
3) repetitions and the figures are medians. The engine also runs on a database whose biggest
table has twice the rows: its peak memory must not grow with the largest table.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import queue
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import closing
from pathlib import Path
from typing import Any

import adbc_driver_sqlite.dbapi as adbc_sqlite
import pyarrow as pa
import pyarrow.parquet as pq

from bench.results import Figure, format_table, print_table, record
from sqlfleet.engines.sqlite_source import SourceTable, convert_column, list_source_tables, pinned_select_sql
from sqlfleet.sourcetypes import OP_COLUMN
from sqlfleet.sql.identifiers import quote_identifier

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "bench" / "data"
SEED = 11
TOTAL_ROWS = 5_000_000
BIG_TABLE_ROWS = 1_200_000
BATCH_ROWS = 100_000
QUEUE_BATCHES = 3
MAX_TIME_RATIO = 1.5
MAX_RSS_GROWTH = 1.2
DATABASE = "bench"
RESULT_PREFIX = "BENCH_RESULT "
_GENERATOR_SOURCES = ("sqlfleet/demo/generate.py", "sqlfleet/demo/schema.py")


# -- data ----------------------------------------------------------------------------------------


def _generator_fingerprint() -> str:
    digest = hashlib.sha256()
    for name in _GENERATOR_SOURCES:
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()[:16]


def _generate(path: Path, params: dict[str, Any]) -> dict[str, int]:
    from sqlfleet.demo import generate_database

    db = generate_database(path, seed=params["seed"], scale=params["scale"], big_table_rows=params["big_table_rows"])
    return db.tables


def prepare_databases(specs: dict[str, dict[str, Any]]) -> dict[str, tuple[Path, dict[str, int]]]:
    """Generate the named databases under ``bench/data`` unless a marker says they already match.

    The marker ``<db>.params.json`` holds the parameters, a fingerprint of the generator's code
    and the table row counts; missing databases are generated in parallel processes.
    """
    fingerprint = _generator_fingerprint()
    result: dict[str, tuple[Path, dict[str, int]]] = {}
    todo: dict[str, dict[str, Any]] = {}
    for name, params in specs.items():
        path, marker = DATA_DIR / f"{name}.db", DATA_DIR / f"{name}.params.json"
        wanted = {**params, "generator": fingerprint}
        if path.is_file() and marker.is_file():
            saved = json.loads(marker.read_text())
            if saved.get("params") == wanted:
                result[name] = (path, {k: int(v) for k, v in saved["tables"].items()})
                continue
        todo[name] = wanted
    if not todo:
        return result
    print(f"generating {', '.join(todo)} in {DATA_DIR} ...", flush=True)
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=min(len(todo), os.cpu_count() or 1)) as pool:
        futures = {n: pool.submit(_generate, DATA_DIR / f"{n}.db", p) for n, p in todo.items()}
        for name, future in futures.items():
            result[name] = (DATA_DIR / f"{name}.db", future.result())
            marker = DATA_DIR / f"{name}.params.json"
            marker.write_text(json.dumps({"params": todo[name], "tables": result[name][1]}, indent=2) + "\n")
    print(f"generated in {time.perf_counter() - started:.1f} s", flush=True)
    return result


def _warm_page_cache(path: Path) -> None:
    with path.open("rb") as handle:
        while handle.read(1 << 24):
            pass


# -- the two sides, each run inside a child process ------------------------------------------------


class _StoppedError(Exception):
    """The writer gave up; the reader must stop."""


def _put(q: queue.Queue[Any], stop: threading.Event, item: object) -> None:
    while not stop.is_set():
        try:
            q.put(item, timeout=0.1)
            return
        except queue.Full:
            continue
    raise _StoppedError


def _read_tables(db: Path, tables: Sequence[SourceTable], q: queue.Queue[Any], stop: threading.Event) -> None:
    """Reader thread: every table as typed batches ``(index, batch)``, ``(index, None)`` at its end."""
    try:
        conn = adbc_sqlite.connect(f"file:{db}?mode=ro")
        try:
            for index, table in enumerate(tables):
                schema = pa.schema([pa.field(c.name, c.arrow_type) for c in table.columns])
                cursor = conn.cursor()
                try:
                    cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(BATCH_ROWS)})
                    cursor.execute(pinned_select_sql(table))
                    first = True
                    for raw in cursor.fetch_record_batch():
                        batch = raw.slice(1) if first else raw  # drop the pinning dummy row
                        first = False
                        if batch.num_rows:
                            arrays = [convert_column(batch.column(i), c) for i, c in enumerate(table.columns)]
                            _put(q, stop, (index, pa.RecordBatch.from_arrays(arrays, schema=schema)))
                finally:
                    cursor.close()
                _put(q, stop, (index, None))
        finally:
            conn.close()
        _put(q, stop, None)
    except _StoppedError:
        return
    except BaseException as exc:
        try:
            _put(q, stop, exc)
        except _StoppedError:
            return


def run_baseline(db: Path, out: Path) -> int:
    """The plain pipeline over every table of ``db``, largest first; returns the rows written.

    Writes ``<out>/<table>/LOAD00000001.parquet`` (snappy, microsecond timestamps, as the engine);
    an empty table writes nothing.
    """
    tables = [t for t in list_source_tables(db, "dbo") if not t.is_view]
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as con:  # max(rowid): O(log n) size proxy
        size = {t.name: con.execute(f"SELECT max(rowid) FROM {quote_identifier(t.name)}").fetchone()[0] for t in tables}
    tables.sort(key=lambda t: -(size[t.name] or 0))
    q: queue.Queue[Any] = queue.Queue(maxsize=QUEUE_BATCHES)
    stop = threading.Event()
    reader = threading.Thread(target=_read_tables, args=(db, tables, q, stop), name="bench-reader", daemon=True)
    reader.start()
    rows = 0
    writer: pq.ParquetWriter | None = None
    try:
        while (item := q.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            index, batch = item
            if batch is None:
                if writer is not None:
                    writer.close()
                    writer = None
                continue
            if writer is None:
                folder = out / tables[index].name
                folder.mkdir(parents=True, exist_ok=True)
                writer = pq.ParquetWriter(
                    folder / "LOAD00000001.parquet", batch.schema, compression="snappy", version="2.6",
                    coerce_timestamps="us", allow_truncated_timestamps=False,
                )  # fmt: skip
            writer.write_batch(batch)
            rows += batch.num_rows
    finally:
        stop.set()
        if writer is not None:
            writer.close()
        reader.join()
    return rows


def _source_counts(db: Path) -> dict[str, int]:
    sql = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite[_]%' ESCAPE '['"
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as con:
        names = [r[0] for r in con.execute(sql)]
        return {n: con.execute(f"SELECT count(*) FROM {quote_identifier(n)}").fetchone()[0] for n in names}


def run_engine(db: Path, out: Path) -> tuple[int, Any]:
    """Replicate ``db`` with ``LocalEngine`` as the fleet would; returns (rows, a check to run after).

    The check (outside the timed part) fails loudly unless the task stopped normally, every
    table is ``Table completed`` and its rows and Parquet footers match the source counts.
    """
    from sqlfleet import layout
    from sqlfleet.engines.base import STOP_FULL_LOAD_FINISHED, TaskSpec
    from sqlfleet.engines.local import LocalEngine
    from sqlfleet.lake import Lake

    lake = Lake.from_url(f"file://{out}")
    engine = LocalEngine(lake, workers=os.cpu_count() or 1, batch_rows=BATCH_ROWS)
    spec = TaskSpec(database=DATABASE, source_url=f"sqlite:///{db}", include_views=False)
    ref = engine.ensure_task(spec)
    engine.start_task(ref, "start-replication")
    while (status := engine.describe_tasks([ref])[ref.identifier]).status not in {"stopped", "failed"}:
        time.sleep(0.05)
    stats = engine.table_statistics(ref)

    def check() -> None:
        if status.status != "stopped" or status.stop_reason != STOP_FULL_LOAD_FINISHED:
            raise SystemExit(f"engine task ended {status.status}: {status.last_failure_message}")
        counts = _source_counts(db)
        got = {s.table_name: s for s in stats}
        if set(got) != set(counts):
            raise SystemExit(f"engine loaded tables {sorted(got)}, the source has {sorted(counts)}")
        for name, expected in counts.items():
            s = got[name]
            footers = lake.read_footers([o.key for o in lake.list(layout.table_prefix(DATABASE, "dbo", name))])
            written = sum(f.rows if not isinstance(f, Exception) else -(10**12) for f in footers.values())
            if s.table_state != "Table completed" or s.full_load_rows != expected or written != expected:
                raise SystemExit(
                    f"engine table {name!r}: {s.table_state} {s.error or ''}, "
                    f"{s.full_load_rows} rows reported, {written} in files, {expected} in source"
                )

    return sum(s.full_load_rows for s in stats), check


def _child(side: str, db: Path, out: Path) -> int:
    """Child mode: run one side, print one JSON line with its wall time, CPU time and peak RSS."""
    if side == "engine":
        import sqlfleet.engines.local  # noqa: F401  (imports happen before the clock starts)
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    if side == "engine":
        rows, check = run_engine(db, out)
    else:
        rows, check = run_baseline(db, out), None
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    if check is not None:
        check()
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    result = {"side": side, "wall_s": wall, "cpu_s": cpu, "rows": rows, "peak_rss_mb": peak_mb}
    print(RESULT_PREFIX + json.dumps(result), flush=True)
    return 0


def run_child(side: str, db: Path, out: Path) -> dict[str, Any]:
    """Run one side in a fresh interpreter on an empty ``out`` and return what it measured."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    cmd = [sys.executable, "-m", "bench.extraction", "--run", side, "--db", str(db), "--out", str(out)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT_PREFIX)]
    if proc.returncode or not lines:
        raise RuntimeError(f"{side} on {db.name} failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    result: dict[str, Any] = json.loads(lines[-1][len(RESULT_PREFIX) :])
    return result


# -- comparison -----------------------------------------------------------------------------------


def check_same_output(engine_file: Path, baseline_file: Path) -> str:
    """Fail unless both sides wrote the same rows and data-column schema (the engine adds 2 first)."""
    eng, base = pq.read_table(engine_file), pq.read_table(baseline_file)
    if eng.column_names[:2] != [OP_COLUMN, "_dms_ts"]:
        raise SystemExit(f"engine file starts with {eng.column_names[:2]}, not Op and _dms_ts")
    data = eng.drop_columns([OP_COLUMN, "_dms_ts"])
    if data.num_rows != base.num_rows or not data.schema.equals(base.schema, check_metadata=False):
        raise SystemExit(
            f"outputs differ: engine {data.num_rows} rows {data.schema}\nbaseline {base.num_rows} rows {base.schema}"
        )
    if not data.equals(base):
        raise SystemExit(f"outputs differ in content: {engine_file} vs {baseline_file}")
    return f"{data.num_rows:,} rows, {data.num_columns} data columns, identical schema and values"


def _median_ratio(runs: list[dict[str, Any]], top: str, bottom: str, key: str) -> float:
    by_repeat: dict[int, dict[str, float]] = {}
    for run in runs:
        by_repeat.setdefault(run["repeat"], {})[run["name"]] = run[key]
    return statistics.median(r[top] / r[bottom] for r in by_repeat.values())


def compute_figures(runs: list[dict[str, Any]]) -> dict[str, Figure]:
    """The benchmark's figures: medians of values, ratios as medians of per-repeat ratios."""

    def med(name: str, key: str) -> float:
        return statistics.median(r[key] for r in runs if r["name"] == name)

    def rate(name: str) -> float:
        return statistics.median(r["rows"] / r["wall_s"] for r in runs if r["name"] == name)

    time_ratio = _median_ratio(runs, "engine", "baseline", "wall_s")
    growth = _median_ratio(runs, "engine_2x", "engine", "peak_rss_mb")
    rss, rss_baseline, rss_2x = (med(name, "peak_rss_mb") for name in ("engine", "baseline", "engine_2x"))
    rss_ratio = _median_ratio(runs, "engine", "baseline", "peak_rss_mb")
    # Figure(value, unit, baseline, ratio, target, passed)
    return {
        "extraction_engine_rows_per_s": Figure(
            rate("engine"), "rows/s", rate("baseline"), time_ratio, f"≤ {MAX_TIME_RATIO}", time_ratio <= MAX_TIME_RATIO
        ),
        "extraction_engine_peak_rss_mb": Figure(rss, "MB", rss_baseline, rss_ratio, "report", None),
        "extraction_engine_rss_growth_with_big_table": Figure(
            rss_2x, "MB", rss, growth, f"≤ {MAX_RSS_GROWTH}", growth <= MAX_RSS_GROWTH
        ),
    }


def _raw_table(runs: list[dict[str, Any]]) -> str:
    header = ("repeat", "order", "side", "database", "rows", "wall s", "CPU s", "rows/s", "peak RSS MB")
    rows = [
        (str(r["repeat"]), str(r["order"]), r["name"], r["db"], f"{r['rows']:,}", f"{r['wall_s']:.2f}",
         f"{r['cpu_s']:.2f}", f"{r['rows'] / r['wall_s']:,.0f}", f"{r['peak_rss_mb']:.0f}")
        for r in runs
    ]  # fmt: skip
    return format_table(rows, header)


def run_benchmark(repeats: int) -> dict[str, Figure]:
    """Prepare the data, run every side ``repeats`` times in alternating order, report and record."""
    from sqlfleet.demo import scale_for_total_rows
    from sqlfleet.demo.schema import BIG_TABLE

    started = time.perf_counter()
    scale = scale_for_total_rows(TOTAL_ROWS, big_table_rows=BIG_TABLE_ROWS)
    sizes = {"oltp": BIG_TABLE_ROWS, "oltp_big2x": 2 * BIG_TABLE_ROWS}
    dbs = prepare_databases({n: {"seed": SEED, "scale": scale, "big_table_rows": big} for n, big in sizes.items()})
    (db1, counts1), (db2, counts2) = dbs["oltp"], dbs["oltp_big2x"]
    for path, counts in dbs.values():
        print(
            f"{path.name}: {len(counts)} tables, {sum(counts.values()):,} rows, "
            f"{path.stat().st_size / 1e6:,.0f} MB; biggest {BIG_TABLE!r} {counts[BIG_TABLE]:,} rows"
        )
        _warm_page_cache(path)
    sides = [("engine", "engine", db1, counts1), ("baseline", "baseline", db1, counts1),
             ("engine_2x", "engine", db2, counts2)]  # fmt: skip
    out_root = DATA_DIR / "out"
    runs: list[dict[str, Any]] = []
    for repeat in range(1, repeats + 1):
        order = sides if repeat % 2 else sides[::-1]
        for position, (name, side, db, counts) in enumerate(order, start=1):
            result = run_child(side, db, out_root / name)
            if result["rows"] != sum(counts.values()):
                raise SystemExit(f"{name} wrote {result['rows']:,} rows, the source has {sum(counts.values()):,}")
            runs.append({"repeat": repeat, "order": position, "name": name, "db": db.name, **result})
            print(
                f"  repeat {repeat} #{position} {name:<9} {result['wall_s']:6.2f} s  "
                f"{result['rows'] / result['wall_s']:>10,.0f} rows/s  {result['peak_rss_mb']:5.0f} MB",
                flush=True,
            )
    same = check_same_output(
        out_root / "engine" / DATABASE / "dbo" / BIG_TABLE / "LOAD00000001.parquet",
        out_root / "baseline" / BIG_TABLE / "LOAD00000001.parquet",
    )
    figures = compute_figures(runs)
    print(f"\nraw runs (each a fresh process; wall and CPU exclude interpreter start and imports)\n{_raw_table(runs)}")
    print(f"\noutput check, {BIG_TABLE!r}: {same}")
    title = f"extraction figures (medians of {repeats} repeats; ratio = median of per-repeat ratios)"
    print_table(figures, title=title)
    record(figures)
    print(f"\nwhole benchmark: {time.perf_counter() - started:.1f} s wall")
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark (no arguments), or one side in child mode (``--run``)."""
    parser = argparse.ArgumentParser(prog="python -m bench.extraction", description=__doc__.split("\n")[0])
    parser.add_argument("--run", choices=("engine", "baseline"), help="child mode: run one side and exit")
    parser.add_argument("--db", type=Path, help="child mode: the SQLite source")
    parser.add_argument("--out", type=Path, help="child mode: the output folder")
    args = parser.parse_args(argv)
    if args.run:
        if args.db is None or args.out is None:
            parser.error("--run needs --db and --out")
        return _child(args.run, args.db.resolve(), args.out.resolve())
    figures = run_benchmark(int(os.environ.get("BENCH_REPEATS", "3")))
    return 0 if all(f.passed is not False for f in figures.values()) else 1


if __name__ == "__main__":
    sys.exit(main())

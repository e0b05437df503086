"""Start order: LPT against a brute-force optimum on small fleets, estimates from history and size."""

from __future__ import annotations

import itertools
import random
import sqlite3
from pathlib import Path

import pytest

from sqlfleet.catalog import DatabaseEntry
from sqlfleet.plan import build_plan, order_plan, plan_table
from sqlfleet.schedule import (
    HistoryEntry,
    assign_instances,
    estimate_durations,
    fleet_makespan,
    lpt_order,
    makespan_lower_bound,
    simulate_makespan,
)
from tasks.history import read_source_sizes

MB = 1024 * 1024


def optimum(seconds: dict[str, float], slots: int) -> float:
    """Best makespan over every assignment of jobs to slots (exhaustive; small fleets only)."""
    names = list(seconds)
    best = float("inf")
    for assignment in itertools.product(range(slots), repeat=len(names)):
        loads = [0.0] * slots
        for name, slot in zip(names, assignment, strict=True):
            loads[slot] += seconds[name]
        best = min(best, max(loads))
    return best


@pytest.mark.parametrize("seed", range(25))
def test_lpt_is_within_graham_bound_of_the_optimum_and_never_worse_than_fifo(seed: int) -> None:
    rng = random.Random(seed)
    slots = rng.choice([2, 3])
    seconds = {f"db{i}": round(rng.paretovariate(1.2) * 10, 3) for i in range(rng.randint(4, 8))}
    best = optimum(seconds, slots)
    lpt = simulate_makespan(lpt_order(seconds), seconds, slots)
    assert best - 1e-6 <= lpt <= best * (4 / 3 - 1 / (3 * slots)) + 1e-6
    assert lpt >= makespan_lower_bound(seconds, slots) - 1e-9


def test_lpt_beats_fifo_when_the_giant_comes_last() -> None:
    seconds = {"a": 1.0, "b": 1.0, "c": 1.0, "d": 1.0, "giant": 4.0}
    assert simulate_makespan(list(seconds), seconds, 2) == 6.0
    assert simulate_makespan(lpt_order(seconds), seconds, 2) == 4.0


def test_order_is_deterministic_on_ties() -> None:
    assert lpt_order({"b": 1.0, "a": 1.0, "c": 2.0}) == ["c", "a", "b"]


def test_estimates_prefer_history_then_size_then_default() -> None:
    history = {
        "old": HistoryEntry(seconds=100.0, source_bytes=1000),
        "mid": HistoryEntry(seconds=30.0, source_bytes=600),
    }
    sizes = {"old": 5000, "new_big": 4000, "new_small": 100, "unknown": None}
    est = estimate_durations(["old", "new_big", "new_small", "unknown"], history, sizes)
    assert est["old"].seconds == 100.0 and est["old"].source == "history"
    # Measured throughput: median of 0.1 and 0.05 s/byte = 0.075 s/byte.
    assert est["new_big"].source == "size" and est["new_big"].seconds == pytest.approx(300.0)
    assert est["new_small"].seconds == pytest.approx(7.5)
    assert est["unknown"].source == "default" and est["unknown"].seconds == pytest.approx(65.0)
    assert lpt_order({k: v.seconds for k, v in est.items()})[0] == "new_big"


def test_assign_instances_balances_work_and_keeps_fixed_placements() -> None:
    seconds = {f"db{i}": float(s) for i, s in enumerate([9, 8, 7, 6, 5, 4, 3, 2, 1])}
    placed = assign_instances(seconds, ["ri-1", "ri-2", "ri-3"], slots_per_instance=1, fixed={"db8": "ri-1"})
    assert "db8" in placed["ri-1"]
    loads = sorted(sum(seconds[d] for d in dbs) for dbs in placed.values())
    assert loads[-1] - loads[0] <= 2.0
    assert fleet_makespan(placed, seconds, 1) <= makespan_lower_bound(seconds, 3) * 1.1
    with pytest.raises(ValueError, match="unknown instance"):
        assign_instances(seconds, ["ri-1"], 1, fixed={"db0": "ri-9"})


def source(name: str, url: str, size_mb: float | None = None) -> DatabaseEntry:
    return DatabaseEntry(name=name, enabled=True, source=url, size_mb=size_mb)


def test_source_sizes_prefer_the_catalog_size_then_the_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "file.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")
        conn.executemany("INSERT INTO t (body) VALUES (?)", [("x" * 500,)] * 100)
    sqlite_url = f"sqlite:///{path.as_posix()}"
    entries = [
        source("stated", sqlite_url, size_mb=2),
        source("file", sqlite_url),
        source("remote", "mssql://sql1:1433/Remote", size_mb=0.5),
        source("unknown", "mssql://sql1:1433/Unknown"),
        source("gone", f"sqlite:///{(tmp_path / 'gone.db').as_posix()}"),
    ]
    sizes = read_source_sizes.fn(entries)
    assert sizes == {
        "stated": 2 * MB,  # the user's word wins over the file's size
        "file": path.stat().st_size,
        "remote": MB // 2,
        "unknown": None,
        "gone": None,
    }


def plan_first_night(entries: list[DatabaseEntry]) -> list[dict[str, object]]:
    """What ``flows.pipeline.plan_run`` publishes for ``entries`` with no history yet."""
    plan = build_plan(entries, "full-load", max_file_size_kb=32_768, timestamp_column="ts")
    estimates = estimate_durations([e.name for e in entries], {}, read_source_sizes.fn(entries))
    return plan_table(order_plan(plan, estimates, {}))


def test_a_first_night_of_mssql_sources_starts_the_largest_stated_size_first() -> None:
    entries = [
        source("small", "mssql://sql1:1433/Small", size_mb=10),
        source("large", "mssql://sql1:1433/Large", size_mb=500),
        source("medium", "mssql://sql2:1433/Medium", size_mb=50),
    ]
    plan = build_plan(entries, "full-load", max_file_size_kb=32_768, timestamp_column="ts")
    estimates = estimate_durations([e.name for e in entries], {}, read_source_sizes.fn(entries))
    ordered = order_plan(plan, estimates, {})

    assert [(p.name, p.estimate) for p in ordered.databases] == [
        ("large", "size"),
        ("medium", "size"),
        ("small", "size"),
    ]
    # No throughput measured yet: the sizes scale the default 60 s around their mean (not bytes as seconds).
    seconds = {p.name: p.expected_seconds for p in ordered.databases}
    assert seconds == pytest.approx(
        {"large": 60 * 500 / (560 / 3), "medium": 60 * 50 / (560 / 3), "small": 60 * 10 / (560 / 3)}, abs=1e-3
    )
    rows = plan_table(ordered)
    assert [(r["order"], r["database"], r["estimate"]) for r in rows] == [
        (1, "large", "size (catalog)"),
        (2, "medium", "size (catalog)"),
        (3, "small", "size (catalog)"),
    ]


def test_the_plan_says_which_size_an_estimate_came_from(tmp_path: Path) -> None:
    path = tmp_path / "file.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    rows = plan_first_night(
        [
            source("stated", "mssql://sql1:1433/Stated", size_mb=1),
            source("file", f"sqlite:///{path.as_posix()}"),
            source("unsized", "mssql://sql1:1433/Unsized"),
        ]
    )
    # The 1 MB statement outweighs the few-KB file; a source without a size gets the typical 60 s.
    assert [(r["database"], r["estimate"]) for r in rows] == [
        ("stated", "size (catalog)"),
        ("unsized", "default"),
        ("file", "size"),
    ]

"""``bench.delta``'s figures from recorded runs (the benchmark itself is never timed in tests)."""

from __future__ import annotations

from typing import Any

from bench.delta import compute_figures


def run(full: float, delta: float, touched: set[str], changed: set[str]) -> dict[str, Any]:
    side = {"replicate_seconds": 0.0, "load_seconds": 0.0, "bytes": 10}

    def window(seconds: float, tables: set[str]) -> dict[str, Any]:
        return {
            **side,
            "seconds": seconds,
            "replicate_seconds": seconds / 2,
            "load_seconds": seconds / 2,
            "checkpoint_seconds": seconds / 10,
            "tables_with_files": tables,
            "tables_loaded": tables,
        }

    return {"full": window(full, set()), "delta": window(delta, touched), "changes": 10, "changed_tables": changed}


def test_the_delta_must_be_fast_and_touch_only_changed_tables() -> None:
    good = compute_figures([run(10, 0.5, {"a"}, {"a"}), run(10, 0.9, {"a"}, {"a"}), run(10, 0.7, {"a"}, {"a"})], 1000)
    assert round(good["delta_seconds_vs_full_load"].ratio or 0, 6) == 0.07 and good["delta_seconds_vs_full_load"].passed
    assert good["delta_tables_touched_vs_changed"].passed and good["delta_changed_rows_share"].value == 1.0
    assert round(good["delta_checkpoint_seconds_vs_full_load"].ratio or 0, 6) == 0.07
    slow = compute_figures([run(10, 2, {"a"}, {"a"})], 1000)
    assert slow["delta_seconds_vs_full_load"].passed is False
    wide = compute_figures([run(10, 0.5, {"a", "b"}, {"a"})], 1000)
    assert (
        wide["delta_tables_touched_vs_changed"].passed is False and wide["delta_tables_touched_vs_changed"].ratio == 2
    )

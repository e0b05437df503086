"""The reconciliation ledger (pure): which counts must agree, and what a disagreement does."""

from __future__ import annotations

from datetime import datetime

from sqlfleet.lake import LakeObject
from sqlfleet.ledger import change_entry, failing_loads, fleet_rollup, full_load_entry, ledger_table
from sqlfleet.sql.bookkeeping import LEDGER_COLUMNS
from sqlfleet.verify import VerifiedTable
from sqlfleet.warehouses.base import LoadedTable

AT = datetime(2026, 11, 28, 12, 0, 0)


def table(expected: int, footer: int, source: int | None = None, name: str = "orders") -> VerifiedTable:
    files = (LakeObject(key=f"db/dbo/{name}/LOAD00000001.parquet", size=10),)
    return VerifiedTable(
        schema_name="dbo",
        table=name,
        expected_rows=expected,
        footer_rows=footer,
        files=files,
        bytes=10,
        ok=True,
        source_rows=source,
    )


def loaded(rows: int, status: str = "loaded", target: str = "orders", **changes: int | None) -> LoadedTable:
    return LoadedTable(
        schema_name="dbo",
        table=target,
        target=target,
        rows=rows,
        files=1,
        bytes=10,
        status=status,
        seconds=0.1,
        **changes,
    )  # type: ignore[arg-type]


def test_full_load_that_agrees_everywhere_is_ok() -> None:
    entry = full_load_entry("db", "b1", table(5, 5, source=5), loaded(5), AT)
    assert (entry.status, entry.problems, entry.source_rows, entry.warehouse_rows) == ("ok", (), 5, 5)
    assert len(entry.as_row()) == len(LEDGER_COLUMNS)
    assert dict(zip([n for n, _ in LEDGER_COLUMNS], entry.as_row(), strict=True))["problems"] == ""


def test_each_disagreement_is_named() -> None:
    source = full_load_entry("db", "b1", table(5, 5, source=6), loaded(5), AT)
    assert source.status == "mismatch" and "source holds 6 rows, the engine loaded 5" in source.problems[0]
    footers = full_load_entry("db", "b1", table(5, 4), loaded(4), AT)
    assert footers.status == "mismatch" and "footers hold 4" in footers.problems[0]
    warehouse = full_load_entry("db", "b1", table(5, 5), loaded(7, status="unchanged"), AT)
    assert warehouse.status == "mismatch" and "holds 7 rows" in warehouse.problems[0]


def test_unknown_source_rows_are_not_a_disagreement() -> None:
    entry = full_load_entry("db", "b1", table(5, 5, source=None), loaded(5), AT)
    assert entry.status == "ok" and entry.source_rows is None
    assert ledger_table([entry])[0]["source"] == "-"


def test_a_failed_load_is_failed_not_mismatched() -> None:
    failed = loaded(0, status="failed").model_copy(update={"error": "boom"})
    entry = full_load_entry("db", "b1", table(5, 5), failed, AT)
    assert (entry.status, entry.problems, entry.warehouse_rows) == ("failed", ("boom",), None)


def test_changes_must_add_up() -> None:
    window = table(4, 4)
    ok = change_entry("db", "c1", window, loaded(11, inserted=2, updated=1, deleted=1, previous_rows=10), AT)
    assert ok.status == "ok"
    wrong_rows = change_entry("db", "c1", window, loaded(12, inserted=2, updated=1, deleted=1, previous_rows=10), AT)
    assert wrong_rows.status == "mismatch" and "went from 10 to 12 rows" in wrong_rows.problems[0]
    engine = change_entry("db", "c1", window, loaded(10, previous_rows=10), AT, engine_changes=5)
    assert engine.status == "mismatch" and "engine reported 5 changes" in engine.problems[0]
    too_many = change_entry("db", "c1", window, loaded(15, inserted=5, previous_rows=10), AT)
    assert too_many.status == "mismatch" and "5 changes applied from 4" in too_many.problems[0]


def test_failing_loads_fails_exactly_the_mismatched_tables() -> None:
    loads = [loaded(5, target="a"), loaded(3, target="b")]
    entries = [
        full_load_entry("db", "b1", table(5, 5, name="a"), loads[0], AT),
        full_load_entry("db", "b1", table(4, 4, name="b"), loads[1], AT),
    ]
    result = failing_loads(loads, entries)
    assert [t.status for t in result] == ["loaded", "failed"]
    assert result[1].error is not None and result[1].error.startswith("reconciliation: ")


def test_fleet_rollup() -> None:
    entries = [
        full_load_entry("db", "b1", table(5, 5, source=5, name="a"), loaded(5, target="a"), AT),
        full_load_entry("db", "b1", table(4, 4, name="b"), loaded(3, target="b"), AT),
    ]
    (row,) = fleet_rollup({"db": entries})
    assert row == {
        "database": "db",
        "tables": 2,
        "ok": 1,
        "mismatch": 1,
        "failed": 0,
        "source_rows": "-",
        "engine_rows": 9,
        "footer_rows": 9,
        "warehouse_rows": 8,
    }

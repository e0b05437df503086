"""The fleet flow on a real local Prefect server: 3 databases, one broken table, one failing database."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import duckdb
import pytest

from sqlfleet.catalog import render_catalog
from tests.test_engine_local import make_source

pytestmark = pytest.mark.usefixtures("prefect_server")


def make_small(path: Path, rows: int) -> Path:
    con = sqlite3.connect(path)
    con.execute('CREATE TABLE "Customer" (id int NOT NULL PRIMARY KEY, name nvarchar(50), amount money)')
    con.executemany('INSERT INTO "Customer" VALUES (?, ?, ?)', ((i, f"Zoë {i}", i * 1.25) for i in range(rows)))
    con.execute("CREATE TABLE order_line (id bigint NOT NULL, qty int, at datetime2)")
    con.executemany(
        "INSERT INTO order_line VALUES (?, ?, ?)",
        ((i, i % 7, f"2024-01-01 00:00:{i % 60:02d}.1234567") for i in range(rows * 3)),
    )
    con.commit()
    con.close()
    return path


@pytest.fixture
def fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    sources = tmp_path / "sources"
    sources.mkdir()
    make_small(sources / "alpha.db", 200)
    make_source(sources / "zoo.db")  # has one table whose values don't fit their declared type
    make_small(sources / "gamma.db", 50)
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(
        render_catalog(
            [
                {"name": "alpha", "enabled": True, "source": "sqlite:///sources/alpha.db"},
                {"name": "zoo", "enabled": True, "source": "sqlite:///sources/zoo.db"},
                # Selection rules that match nothing make the task fail (DMS FailOnNoTablesCaptured).
                {
                    "name": "gamma",
                    "enabled": True,
                    "source": "sqlite:///sources/gamma.db",
                    "tables": {"include": ["no_such_table%"]},
                },
                {"name": "delta", "enabled": False, "source": "sqlite:///sources/gamma.db"},
            ]
        )
    )
    monkeypatch.setenv("SQLFLEET_LAKE_URL", f"file://{tmp_path / 'lake'}")
    monkeypatch.setenv("SQLFLEET_WAREHOUSE_URL", f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    monkeypatch.setenv("SQLFLEET_ENABLED_VARIABLE", f"sqlfleet_enabled_{tmp_path.name.lower()[-20:]}")
    monkeypatch.setenv("SQLFLEET_POLL_INTERVAL_SECONDS", "0.05")
    return catalog


def warehouse_counts(tmp_path: Path) -> dict[str, int]:
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
    try:
        tables = con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema <> '_sqlfleet'"
        ).fetchall()
        return {
            f"{s}.{t}": con.execute(f'SELECT count(*) FROM "{s}"."{t}"').fetchone()[0]  # type: ignore[index]
            for s, t in tables
        }
    finally:
        con.close()


def test_one_failing_database_never_stops_the_others(fleet: Path, tmp_path: Path) -> None:
    from prefect.artifacts import Artifact

    from flows.fleet import fleet_run
    from sqlfleet.report import FleetSummary

    state = fleet_run(catalog_path=str(fleet), return_state=True)
    assert state.is_failed()
    assert "2/3 databases failed: zoo, gamma" in (state.message or "")
    summary = state.result(raise_on_failure=False)
    assert isinstance(summary, FleetSummary)
    by_name = {o.database: o for o in summary.outcomes}
    assert by_name["alpha"].status == "succeeded" and by_name["alpha"].rows == 200 + 600
    assert by_name["zoo"].status == "failed" and "dbo.broken" in by_name["zoo"].failure
    assert by_name["gamma"].status == "failed" and "match no source table" in by_name["gamma"].failure
    assert "delta" not in by_name  # disabled in the catalog

    counts = warehouse_counts(tmp_path)
    assert counts["alpha.Customer"] == 200 and counts["alpha.order_line"] == 600
    # The broken table failed alone: the rest of its database is loaded.
    assert counts["zoo.Numbers"] == 5000 and counts["zoo.Type Zoo"] == 3 and "zoo.broken" not in counts
    assert not any(name.startswith("gamma.") for name in counts)

    fleet_artifact = Artifact.get("sqlfleet-fleet")
    assert fleet_artifact is not None
    rows = {r["database"]: r for r in json.loads(fleet_artifact.data)}  # type: ignore[arg-type]
    assert rows["alpha"]["status"] == "succeeded" and rows["alpha"]["rows"] == 800
    assert rows["gamma"]["status"] == "failed"
    zoo = Artifact.get("sqlfleet-db-zoo")
    assert zoo is not None
    zoo_rows = {r["table"]: r for r in json.loads(zoo.data)}  # type: ignore[arg-type]
    assert zoo_rows["dbo.Numbers"]["warehouse"] == "loaded" and zoo_rows["dbo.broken"]["warehouse"] == "failed"
    progress = Artifact.get("sqlfleet-progress")
    assert progress is not None and float(progress.data) == 100.0  # type: ignore[arg-type]

    # A rerun of the same files loads nothing twice and changes nothing.
    again = fleet_run(catalog_path=str(fleet), databases=["alpha"], return_state=True)
    assert again.is_completed()
    assert warehouse_counts(tmp_path)["alpha.Customer"] == 200

    # The next plan estimates alpha from its history; the failed ones still from their size.
    fleet_run(catalog_path=str(fleet), dry_run=True, return_state=True)
    plan = Artifact.get("sqlfleet-plan")
    assert plan is not None
    estimates = {r["database"]: r["estimate"] for r in json.loads(plan.data)}  # type: ignore[arg-type]
    assert estimates == {"alpha": "history", "zoo": "size", "gamma": "size"}


def test_dry_run_plans_without_starting_anything(fleet: Path, tmp_path: Path) -> None:
    from prefect.artifacts import Artifact

    from flows.fleet import fleet_run

    state = fleet_run(catalog_path=str(fleet), dry_run=True, return_state=True)
    assert state.is_completed() and "3 database(s) planned" in (state.message or "")
    assert not (tmp_path / "lake").exists() or not any((tmp_path / "lake").iterdir())
    plan = Artifact.get("sqlfleet-plan")
    assert plan is not None
    rows = json.loads(plan.data)  # type: ignore[arg-type]
    # No history yet: longest expected first by the sources' sizes (zoo.db is the largest file).
    sizes = {name: (tmp_path / "sources" / f"{name}.db").stat().st_size for name in ("alpha", "zoo", "gamma")}
    assert [r["database"] for r in rows] == sorted(sizes, key=lambda n: -sizes[n]) == ["zoo", "alpha", "gamma"]
    assert {r["estimate"] for r in rows} == {"size"} and all(r["instance"] == "local" for r in rows)
    assert [r["expected_s"] for r in rows] == sorted((r["expected_s"] for r in rows), reverse=True)


def test_the_prefect_variable_onboards_and_offboards_databases(fleet: Path, tmp_path: Path) -> None:
    import os

    from prefect.variables import Variable

    from flows.fleet import fleet_run

    Variable.set(
        os.environ["SQLFLEET_ENABLED_VARIABLE"],
        {"delta": True, "zoo": False, "gamma": False, "retired": True},
        overwrite=True,
    )
    state = fleet_run(catalog_path=str(fleet), return_state=True)
    assert state.is_completed(), state.message
    summary = state.result(raise_on_failure=False)
    assert sorted(o.database for o in summary.outcomes) == ["alpha", "delta"]  # type: ignore[union-attr]
    assert warehouse_counts(tmp_path)["delta.Customer"] == 50


def test_catalog_mistakes_fail_the_run_before_anything_starts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from flows.fleet import fleet_run

    catalog = tmp_path / "catalog.yaml"
    catalog.write_text("databases:\n  - name: 1bad\n    enabled: yes\n    source: sqlite:///missing.db\n    extra: 1\n")
    monkeypatch.setenv("SQLFLEET_LAKE_URL", f"file://{tmp_path / 'lake'}")
    state = fleet_run(catalog_path=str(catalog), return_state=True)
    assert state.is_failed()
    with pytest.raises(Exception) as info:
        state.result()
    text = str(info.value)
    assert "1bad" in text and "extra" in text and "missing.db" in text
    assert not (tmp_path / "lake").exists() or not any((tmp_path / "lake").iterdir())

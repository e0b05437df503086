"""250 databases × 40 tiny tables through the embedded engine, the real limits and a local Prefect server."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from sqlfleet.catalog import render_catalog

pytestmark = [pytest.mark.usefixtures("prefect_server"), pytest.mark.slow]

DATABASES = 250
TABLES = 40
ROWS = 3


def template(path: Path) -> Path:
    """One source with ``TABLES`` tables of ``ROWS`` rows; the fleet's sources are copies of it."""
    con = sqlite3.connect(path)
    for i in range(TABLES):
        con.execute(f'CREATE TABLE "t{i:02d}" (id int NOT NULL PRIMARY KEY, name nvarchar(20), amount decimal(9,2))')
        con.executemany(f'INSERT INTO "t{i:02d}" VALUES (?, ?, ?)', [(j, f"n{j}", j * 1.25) for j in range(ROWS)])
    con.commit()
    con.close()
    return path


@pytest.fixture
def wide_limits() -> Iterator[None]:
    """Room for the fleet: 16 replications and 16 loads at once (restored to the session's 4 after)."""
    from prefect.client.orchestration import get_client

    from deployments.setup import apply_limits
    from sqlfleet.limits import desired_limits
    from tests.conftest import TEST_INSTANCES

    def resize(size: int) -> None:
        with get_client(sync_client=True) as client:
            apply_limits(
                client,
                desired_limits(instances=TEST_INSTANCES, tasks_per_instance=size, warehouse_statements=size),
                dry_run=False,
            )

    resize(16)
    try:
        yield
    finally:
        resize(4)


def test_a_250_database_fleet_runs_to_completion_with_live_artifacts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, wide_limits: None
) -> None:
    from prefect.artifacts import Artifact
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from flows.fleet import fleet_run
    from sqlfleet import layout
    from sqlfleet.lake import Lake

    sources = tmp_path / "sources"
    sources.mkdir()
    first = template(sources / "db000.db")
    names = [f"db{i:03d}" for i in range(DATABASES)]
    for name in names[1:]:
        shutil.copyfile(first, sources / f"{name}.db")
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(
        render_catalog([{"name": n, "enabled": True, "source": f"sqlite:///sources/{n}.db"} for n in names])
    )
    for name, value in {
        "SQLFLEET_LAKE_URL": f"file://{tmp_path / 'lake'}",
        "SQLFLEET_WAREHOUSE_URL": f"duckdb:///{tmp_path / 'warehouse.duckdb'}",
        "SQLFLEET_ENABLED_VARIABLE": f"sqlfleet_enabled_{tmp_path.name.lower()[-20:]}",
        "SQLFLEET_POLL_INTERVAL_SECONDS": "0.05",
        "SQLFLEET_DATABASE_CONCURRENCY": "32",
        "SQLFLEET_WAREHOUSE_CONCURRENCY": "4",
        "SQLFLEET_PROGRESS_EVERY_SECONDS": "3",
    }.items():
        monkeypatch.setenv(name, value)

    state = fleet_run(catalog_path=str(catalog), run_key="scale", return_state=True)
    assert state.is_completed(), state.message
    assert state.message == f"{DATABASES}/{DATABASES} databases replicated, verified and loaded (full-load)"

    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
    try:
        tables = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema <> '_sqlfleet'"
        ).fetchone()
        loaded = con.execute(
            'SELECT count(DISTINCT "database" || "target"), sum("rows") FROM "_sqlfleet"."load_manifest"'
        ).fetchone()
    finally:
        con.close()
    assert tables == (DATABASES * TABLES,)
    assert loaded == (DATABASES * TABLES, DATABASES * TABLES * ROWS)

    fleet = Artifact.get("sqlfleet-fleet")
    assert fleet is not None
    rows = json.loads(fleet.data)  # type: ignore[arg-type]
    assert [r["database"] for r in rows] == names
    assert {(r["status"], r["tables"], r["rows"]) for r in rows} == {("succeeded", TABLES, TABLES * ROWS)}
    progress = Artifact.get("sqlfleet-progress")
    assert progress is not None and float(progress.data) == 100.0  # type: ignore[arg-type]
    plan = Artifact.get("sqlfleet-plan")
    assert plan is not None and len(json.loads(plan.data)) == DATABASES  # type: ignore[arg-type]
    one = Artifact.get("sqlfleet-db-db123")
    assert one is not None and len(json.loads(one.data)) == TABLES  # type: ignore[arg-type]

    # The fleet table was published while the run went on, not only at its end.
    run_id = state.state_details.flow_run_id
    with get_client(sync_client=True) as client:
        versions = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["sqlfleet-fleet"])))
    during = [a for a in versions if a.flow_run_id == run_id and a.data != fleet.data]
    assert during, "no fleet table was published during the run"
    assert any(r["status"] != "succeeded" for a in during for r in json.loads(a.data))  # type: ignore[arg-type]

    lake = Lake.from_url(f"file://{tmp_path / 'lake'}")
    finished = [o for o in lake.list(layout.run_prefix("scale")) if o.key.endswith("/finished.json")]
    assert len(finished) == DATABASES
    assert len(lake.list(layout.history_prefix())) == DATABASES  # the next plan orders by these

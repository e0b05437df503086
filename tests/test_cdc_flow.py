"""The fleet flow's ``mode`` on a real local Prefect server: cdc without a checkpoint, automatic
full load, delta, rerun, views skipped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sqlfleet.catalog import render_catalog
from sqlfleet.checkpoints import LakeCheckpointStore
from sqlfleet.demo.check import compare_database
from sqlfleet.lake import Lake
from sqlfleet.warehouses.duckdb import DuckDBWarehouse
from tests.cdc_support import execute_all

pytestmark = pytest.mark.usefixtures("prefect_server")


def make_shop(path: Path) -> Path:
    execute_all(
        path,
        "CREATE TABLE customer (id int NOT NULL PRIMARY KEY, name nvarchar(50), credit decimal(9,2))",
        "INSERT INTO customer VALUES (1, 'Zoë', 10.5), (2, 'Ana', 20), (3, 'Kenji', NULL)",
        'CREATE TABLE "Price History" (product_id int NOT NULL, effective_date date NOT NULL, price money, '
        "PRIMARY KEY (product_id, effective_date))",
        "INSERT INTO \"Price History\" VALUES (1, '2024-01-01', 10), (2, '2024-01-01', 5)",
        "CREATE VIEW v_customer AS SELECT id, name FROM customer",
    )
    return path


@pytest.fixture
def fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from sqlfleet.cli_cdc import enable_catalog

    (tmp_path / "sources").mkdir()
    make_shop(tmp_path / "sources" / "alpha.db")
    make_shop(tmp_path / "sources" / "beta.db")
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(
        render_catalog(
            [
                {"name": "alpha", "enabled": True, "source": "sqlite:///sources/alpha.db"},
                {
                    "name": "beta",
                    "enabled": True,
                    "source": "sqlite:///sources/beta.db",
                    "cdc_without_checkpoint": "full-load",
                },
            ]
        )
    )
    enable_catalog(catalog)
    monkeypatch.setenv("SQLFLEET_LAKE_URL", f"file://{tmp_path / 'lake'}")
    monkeypatch.setenv("SQLFLEET_WAREHOUSE_URL", f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    monkeypatch.setenv("SQLFLEET_ENABLED_VARIABLE", f"sqlfleet_enabled_{tmp_path.name.lower()[-20:]}")
    monkeypatch.setenv("SQLFLEET_POLL_INTERVAL_SECONDS", "0.05")
    return catalog


def artifact_rows(key: str) -> dict[str, dict[str, object]]:
    from prefect.artifacts import Artifact

    artifact = Artifact.get(key)
    assert artifact is not None
    return {r["table"]: r for r in json.loads(artifact.data)}  # type: ignore[arg-type]


def test_mode_per_run_from_no_checkpoint_to_delta_and_rerun(fleet: Path, tmp_path: Path) -> None:
    from flows.fleet import fleet_run
    from sqlfleet.report import FleetSummary

    first = fleet_run(mode="cdc", catalog_path=str(fleet), return_state=True)
    assert first.is_failed() and "1/2 databases failed: alpha" in (first.message or "")
    summary = first.result(raise_on_failure=False)
    assert isinstance(summary, FleetSummary)
    outcomes = {o.database: o for o in summary.outcomes}
    assert "no CDC checkpoint yet" in outcomes["alpha"].failure and "run a full load first" in outcomes["alpha"].failure
    assert outcomes["beta"].status == "succeeded"  # the catalog asked for a full load instead
    beta = artifact_rows("sqlfleet-db-beta")
    assert beta["dbo.v_customer"]["warehouse"] == "skipped" and beta["dbo.customer"]["warehouse"] == "loaded"
    store = LakeCheckpointStore(Lake.from_url(f"file://{tmp_path / 'lake'}"))
    assert store.read("beta", "full-load-and-cdc") is not None and store.read("alpha", "cdc") is None

    assert fleet_run(
        mode="full-load-and-cdc", databases=["alpha"], catalog_path=str(fleet), return_state=True
    ).is_completed()
    for name in ("alpha", "beta"):
        execute_all(
            tmp_path / "sources" / f"{name}.db",
            "UPDATE customer SET credit = 1 WHERE id = 1",
            "UPDATE customer SET credit = 2 WHERE id = 1",
            "INSERT INTO customer VALUES (9, 'gone', 0)",
            "DELETE FROM customer WHERE id = 9",
            "UPDATE customer SET id = 30 WHERE id = 3",
            'UPDATE "Price History" SET price = 6 WHERE product_id = 2',
        )
    delta = fleet_run(mode="cdc", catalog_path=str(fleet), return_state=True)
    assert delta.is_completed(), delta.message
    beta = artifact_rows("sqlfleet-db-beta")
    assert beta["dbo.customer"]["engine_rows"] == 6 and beta["dbo.v_customer"]["warehouse"] == "skipped"
    again = fleet_run(mode="cdc", catalog_path=str(fleet), return_state=True)
    assert again.is_completed()
    with DuckDBWarehouse(tmp_path / "warehouse.duckdb", read_only=True) as wh:
        for name in ("alpha", "beta"):
            results = compare_database(tmp_path / "sources" / f"{name}.db", wh, name, include_views=False)
            assert [r.detail for r in results if not r.equal] == []
        assert wh.query('SELECT id, credit FROM "beta"."customer" ORDER BY id') == [(1, 2), (2, 20), (30, None)]

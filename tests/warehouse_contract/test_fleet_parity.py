"""The fleet flow on the demo fleet, into DuckDB and into Snowflake (fakesnow): identical tables.

Also checks what the run leaves behind: the reconciliation ledger in both warehouses and as
Prefect artifacts (one table per database and the fleet rollup).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sqlfleet.catalog import render_catalog
from sqlfleet.demo.generate import generate_fleet
from sqlfleet.lake import Lake
from sqlfleet.sql import duckdb as duck_sql
from sqlfleet.sql import snowflake as sf_sql
from sqlfleet.sql.identifiers import qualified_name, quote_identifier
from tests.warehouse_contract.conftest import SNOWFLAKE_DATABASE, Clock, fakesnow_warehouse

pytestmark = [pytest.mark.usefixtures("prefect_server"), pytest.mark.slow]

Tables = dict[tuple[str, str], list[tuple[Any, ...]]]
Query = Callable[[str], list[tuple[Any, ...]]]


def _contents(query: Query, tables: list[tuple[str, str]], snowflake: str | None = None) -> Tables:
    """Every table's rows without the DMS write timestamp (it differs from run to run), sorted."""
    found: Tables = {}
    for schema, table in tables:
        if snowflake is None:
            name, describe = qualified_name(schema, table), duck_sql.table_columns_sql(schema, table)
        else:
            name = qualified_name(snowflake, schema, table)
            describe = sf_sql.table_columns_sql(snowflake, schema, table)
        keep = ", ".join(quote_identifier(r[0]) for r in query(describe) if r[0] != "_dms_ts")
        found[(schema, table)] = sorted(query(f"SELECT {keep} FROM {name}"), key=repr)
    return found


def test_demo_fleet_loads_identically_into_duckdb_and_snowflake(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import duckdb
    from prefect.artifacts import Artifact

    from flows.fleet import fleet_run

    generated = generate_fleet(tmp_path / "sources", databases=1, seed=5, scale=0.01)
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(
        render_catalog(
            [{"name": g.name, "enabled": True, "source": f"sqlite:///sources/{g.name}.db"} for g in generated]
        )
    )
    lake = Lake.from_url(f"file://{tmp_path / 'lake'}")
    monkeypatch.setenv("SQLFLEET_LAKE_URL", lake.url)
    monkeypatch.setenv("SQLFLEET_POLL_INTERVAL_SECONDS", "0.05")
    monkeypatch.setenv("SQLFLEET_ENABLED_VARIABLE", f"sqlfleet_enabled_{tmp_path.name.lower()[-20:]}")

    monkeypatch.setenv("SQLFLEET_WAREHOUSE_URL", f"duckdb:///{tmp_path / 'w.duckdb'}")
    state = fleet_run(catalog_path=str(catalog), run_key="parity-duckdb", return_state=True)
    assert state.is_completed(), state.message
    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    tables = sorted(
        con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema <> '_sqlfleet'"
        ).fetchall()
    )
    expected = _contents(lambda q: con.execute(q).fetchall(), tables)
    duck_ledger = con.execute(
        'SELECT "status", count(*) FROM "_sqlfleet"."reconciliation_ledger" GROUP BY 1'
    ).fetchall()
    con.close()
    # 40 tables and 3 views; at this scale one table is empty and has no warehouse table
    assert len(tables) >= 40 and duck_ledger == [("ok", 43)]

    monkeypatch.setenv("SQLFLEET_WAREHOUSE_URL", f"snowflake://sqlfleet-test/{SNOWFLAKE_DATABASE}?warehouse=LOAD_WH")
    monkeypatch.setenv("SQLFLEET_SNOWFLAKE_USER", "loader")
    monkeypatch.setenv("SQLFLEET_SNOWFLAKE_PASSWORD", "unused")
    monkeypatch.setenv("SQLFLEET_WAREHOUSE_CONCURRENCY", "4")
    with fakesnow_warehouse(lake, Clock()) as snowflake:
        # a run key of its own: under the first run's key every database is already loaded
        state = fleet_run(catalog_path=str(catalog), run_key="parity-snowflake", return_state=True)
        assert state.is_completed(), state.message
        assert _contents(snowflake.query, tables, SNOWFLAKE_DATABASE) == expected
        ledger = snowflake.ledger_rows()
        assert {r["status"] for r in ledger} == {"ok"} and len(ledger) == 43
        assert all(r["source_rows"] == r["engine_rows"] == r["footer_rows"] == r["warehouse_rows"] for r in ledger)

    rollup = Artifact.get("sqlfleet-ledger")
    assert rollup is not None and "43/43 tables reconcile" in (rollup.description or "")
    per_database = Artifact.get(f"sqlfleet-ledger-{generated[0].name.replace('_', '-')}")
    assert per_database is not None and per_database.type == "table"

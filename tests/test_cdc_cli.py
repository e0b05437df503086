"""``sqlfleet cdc enable`` and ``sqlfleet demo mutate`` from the command line."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from typer.testing import CliRunner

from sqlfleet.catalog import render_catalog
from sqlfleet.cdc.sqlite_capture import read_capture_state
from sqlfleet.cli import app
from sqlfleet.demo.generate import generate_database


def test_cdc_enable_captures_selected_tables_idempotently_and_prints_tsql_for_sql_server(tmp_path: Path) -> None:
    db = tmp_path / "shop.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE orders (id int PRIMARY KEY, total money)")
    con.execute("CREATE TABLE tmp_scratch (id int)")
    con.execute("CREATE VIEW v_orders AS SELECT * FROM orders")
    con.commit()
    con.close()
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(
        render_catalog(
            [
                {"name": "shop", "enabled": True, "source": "sqlite:///shop.db", "tables": {"exclude": ["tmp%"]}},
                {"name": "erp", "enabled": False, "source": "mssql://sql1.example.com:1433/ERP"},
            ]
        )
    )
    runner = CliRunner()
    first = runner.invoke(app, ["cdc", "enable", "--catalog", str(catalog)])
    assert first.exit_code == 0, first.output
    assert "shop: capture enabled on the database; 1 table(s) newly captured: orders" in first.output
    assert "EXEC sys.sp_cdc_enable_db" in first.output and "sp_cdc_enable_table" in first.output
    assert "1 of 2 database(s) changed" in first.output
    assert set(read_capture_state(db).instances) == {"orders"}

    again = runner.invoke(app, ["cdc", "enable", "--catalog", str(catalog), "--databases", "shop"])
    assert again.exit_code == 0 and "shop: nothing to do, 1 table(s) already captured" in again.output
    assert "0 of 1 database(s) changed" in again.output

    unknown = runner.invoke(app, ["cdc", "enable", "--catalog", str(catalog), "--databases", "nope"])
    assert unknown.exit_code == 2 and "nope" in unknown.output


def test_demo_mutate_changes_the_demo_sources(tmp_path: Path) -> None:
    path = generate_database(tmp_path / "sources" / "sales_eu.db", seed=1, scale=0.02).path
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(
        render_catalog([{"name": "sales_eu", "enabled": True, "source": "sqlite:///sources/sales_eu.db"}])
    )
    con = sqlite3.connect(path)
    before = con.execute('SELECT count(*), total(credit_limit) FROM "Customer"').fetchone()
    con.close()
    result = CliRunner().invoke(app, ["demo", "mutate", "--catalog", str(catalog), "--fraction", "0.1"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("sales_eu: Customer +")
    con = sqlite3.connect(path)
    after = con.execute('SELECT count(*), total(credit_limit) FROM "Customer"').fetchone()
    con.close()
    assert after != before
    bad = CliRunner().invoke(app, ["demo", "mutate", "--catalog", str(catalog), "--fraction", "2"])
    assert bad.exit_code != 0 and "fraction" in bad.output

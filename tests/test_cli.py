"""The command line: catalog check lists every problem; run plans and runs."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from sqlfleet.cli import app

runner = CliRunner()


def test_catalog_check_lists_every_problem_and_exits_non_zero(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(
        "databases:\n"
        "  - name: ok_db\n    enabled: true\n    source: sqlite:///nowhere.db\n"
        "  - name: 9lives\n    enabled: maybe\n    source: ftp://x\n    colour: red\n"
    )
    result = runner.invoke(app, ["catalog", "check", str(catalog)])
    assert result.exit_code == 2
    text = result.output
    for expected in ["nowhere.db", "9lives", "enabled", "ftp://x", "colour"]:
        assert expected in text, expected
    assert "catalog.yaml:4" in text and "catalog.yaml:5" in text


def test_catalog_check_accepts_a_valid_catalog(tmp_path: Path) -> None:
    import sqlite3

    sqlite3.connect(tmp_path / "a.db").execute("CREATE TABLE t (id int)").connection.commit()
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(
        "databases:\n  - {name: a, enabled: true, source: 'sqlite:///a.db'}\n"
        "  - {name: b, enabled: false, source: 'sqlite:///a.db'}\n"
    )
    result = runner.invoke(app, ["catalog", "check", str(catalog)])
    assert result.exit_code == 0, result.output
    assert "2 database(s), 1 enabled" in result.output

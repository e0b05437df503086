"""SQL Server prerequisites for DMS: T-SQL builders (golden, parsed by sqlglot), the read-only
checks and the found-vs-needed comparison, and the ``sqlfleet prereqs`` command."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp
from typer.testing import CliRunner

from sqlfleet.catalog import DatabaseEntry, parse_catalog
from sqlfleet.cli import app
from sqlfleet.prereqs import FoundDatabase, found_from_rows, missing_prerequisites
from sqlfleet.source_check import DRIVER_MISSING, driver_available, run_check_queries
from sqlfleet.sql.identifiers import quote_tsql_identifier, quote_tsql_string
from sqlfleet.sql.tsql import (
    PrereqOptions,
    check_queries,
    database_of,
    database_statements,
    prerequisites_script,
    server_statements,
    size_query,
    sizes_script,
)

GOLDEN = Path(__file__).parent / "golden" / "tsql"
CATALOG = """
defaults:
  credentials: {username: dms_user, password_secret: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:s"}
databases:
  - name: sales_eu
    enabled: true
    source: mssql://sql1.example.com:1433/Sales_EU
    schemas: {include: ["dbo", "sales_%"], exclude: ["sales_tmp"]}
    tables: {include: ["%"], exclude: ["tmp_%", "[old]%"]}
    table_options:
      - {table: "dbo.Orders", big: true, partition: {mode: ranges, column: OrderId, boundaries: [100, 200]}}
  - name: crm
    enabled: true
    source: mssql://sql1.example.com/CRM
  - name: odd
    enabled: true
    source: mssql://sql2.example.com:14330/Odd%5DName%25'x
    credentials: {username: "dms]o'user", password_secret: odd-password}
    tables: {include: ["it's_%"]}
  - name: local
    enabled: true
    source: sqlite:///local.db
"""
OPTIONS = {
    "onprem_ongoing": PrereqOptions(),
    "rds_ongoing": PrereqOptions(variant="rds"),
    "full_load_only": PrereqOptions(mode="full-load"),
}


@pytest.fixture(scope="module")
def entries() -> dict[str, DatabaseEntry]:
    catalog = parse_catalog(CATALOG, "prereqs-catalog", Path("."), check_sources=False)
    return {db.name: db for db in catalog.databases}


def mssql(entries: dict[str, DatabaseEntry]) -> list[DatabaseEntry]:
    return [e for e in entries.values() if e.source_kind == "mssql"]


# --- quoting ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["dbo", "Sales Order", "a]b", "]]", "東京", "x'y", "[x]"])
def test_tsql_identifiers_round_trip_through_a_parser(name: str) -> None:
    quoted = quote_tsql_identifier(name)
    assert quoted.startswith("[") and quoted.endswith("]")
    table = sqlglot.parse_one(f"SELECT 1 FROM {quoted}", read="tsql").find(exp.Table)
    assert table is not None and table.name == name
    literal = sqlglot.parse_one(f"SELECT {quote_tsql_string(name)}", read="tsql").find(exp.National)
    assert literal is not None and literal.this == name


@pytest.mark.parametrize("bad", ["", "a\x00b", "x" * 129])
def test_tsql_identifier_refuses_impossible_names(bad: str) -> None:
    with pytest.raises(ValueError, match="identifier"):
        quote_tsql_identifier(bad)


# --- scripts ---------------------------------------------------------------------------------


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.read_text(encoding="utf-8") == text, f"golden {name} differs (UPDATE_GOLDEN=1 rewrites)"


@pytest.mark.parametrize("variant", sorted(OPTIONS))
def test_prerequisite_scripts_golden(variant: str, entries: dict[str, DatabaseEntry]) -> None:
    check_golden(f"prereqs_{variant}.sql", prerequisites_script(mssql(entries), OPTIONS[variant]))


# sqlglot has no grammar for these T-SQL statements and keeps them whole as exp.Command.
_COMMAND_PREFIXES = ("GRANT VIEW ", "GRANT SELECT ON FN_DBLOG", "GRANT EXECUTE ON OBJECT::", "ALTER ROLE ")


def all_statements(entries: dict[str, DatabaseEntry]) -> list[str]:
    statements: list[str] = []
    for options in OPTIONS.values():
        for entry in mssql(entries):
            statements += server_statements(entry.credentials.username if entry.credentials else "dms_user", options)
            statements += database_statements(entry, options)
            statements += check_queries(entry, options).values()
    return statements + [size_query(entry) for entry in mssql(entries)]


def test_every_emitted_statement_parses_as_one_tsql_statement(entries: dict[str, DatabaseEntry]) -> None:
    statements = all_statements(entries)
    assert len(statements) > 60
    for statement in statements:
        parsed = sqlglot.parse(statement, read="tsql")  # raises on a syntax error
        assert len(parsed) == 1 and parsed[0] is not None, statement
        tree = parsed[0]
        if isinstance(tree, exp.Command):
            assert statement.startswith(_COMMAND_PREFIXES) or statement.startswith("GRANT SELECT ON OBJECT::"), (
                f"unexpected Command fallback: {statement}"
            )
        if isinstance(tree, exp.IfBlock):
            # the condition is a condition (not misread as an alias) and the body a closed block
            assert not isinstance(tree.this, exp.Alias), statement
            body = tree.args["true"]
            assert isinstance(body, exp.Block) and isinstance(body.expressions[-1], exp.EndStatement), statement
            assert not [a for a in body.find_all(exp.Alias) if a.alias.upper() == "END"], statement
        if statement.startswith(("SELECT", "DECLARE", "USE", "EXEC ")):
            assert not isinstance(tree, exp.Command), statement


def test_size_script_golden(entries: dict[str, DatabaseEntry]) -> None:
    check_golden("sizes.sql", sizes_script(mssql(entries)))


def test_size_queries_read_the_selected_tables_of_their_own_database(entries: dict[str, DatabaseEntry]) -> None:
    for entry in mssql(entries):
        tree = sqlglot.parse_one(size_query(entry), read="tsql")
        assert isinstance(tree, exp.Select)
        assert [c.alias for c in tree.expressions] == ["catalog_name", "size_mb"]
        # every catalog view is named in the source database, so the query runs from any database
        tables = list(tree.find_all(exp.Table))
        assert {t.name for t in tables} == {"tables", "schemas", "partitions", "allocation_units"}
        assert {(t.catalog, t.db) for t in tables} == {(database_of(entry), "sys")}
    sales = size_query(entries["sales_eu"])
    assert "SELECT N'sales_eu' AS catalog_name" in sales
    assert "NOT (t.name LIKE N'tmp[_]%' OR t.name LIKE N'[[]old]%')" in sales
    assert "p.index_id < 2" in sales  # heaps and clustered indexes: nonclustered ones are not copied
    odd = size_query(entries["odd"])
    assert "FROM [Odd]]Name%'x].sys.tables AS t" in odd and "t.name LIKE N'it''s[_]%'" in odd


def test_check_queries_are_plain_selects(entries: dict[str, DatabaseEntry]) -> None:
    for entry in mssql(entries):
        for name, query in check_queries(entry, PrereqOptions()).items():
            assert isinstance(sqlglot.parse_one(query, read="tsql"), exp.Select), name
    assert "partition_columns" in check_queries(entries["sales_eu"], PrereqOptions())
    assert "partition_columns" not in check_queries(entries["crm"], PrereqOptions())


def test_variants_differ_where_dms_says(entries: dict[str, DatabaseEntry]) -> None:
    sales = entries["sales_eu"]
    onprem = database_statements(sales, PrereqOptions())
    rds = database_statements(sales, PrereqOptions(variant="rds"))
    full = database_statements(sales, PrereqOptions(mode="full-load"))
    assert any("EXEC sys.sp_cdc_enable_db" in s for s in onprem) and not any("rds_cdc" in s for s in onprem)
    assert any("EXEC msdb.dbo.rds_cdc_enable_db N'Sales_EU'" in s for s in rds)
    assert any("@role_name = NULL" in s for s in onprem)
    assert any("@pollinginterval = 86399" in s for s in rds)
    assert "ALTER ROLE [db_owner] ADD MEMBER [dms_user]" in onprem
    assert "ALTER ROLE [db_datareader] ADD MEMBER [dms_user]" in full
    assert not any("cdc" in s.lower() or "RECOVERY" in s for s in full)
    assert any("recovery_model_desc = N'FULL'" in s for s in onprem)
    server_onprem = server_statements("dms_user", PrereqOptions())
    server_rds = server_statements("dms_user", PrereqOptions(variant="rds"))
    assert "GRANT SELECT ON FN_DBLOG TO [dms_user]" in server_onprem and "USE [msdb]" in server_onprem
    assert not any("msdb" in s or "FN_DBLOG" in s for s in server_rds)
    assert any("rds_set_configuration N'cdc_capture_pollinginterval', 86399" in s for s in server_rds)
    assert server_statements("dms_user", PrereqOptions(mode="full-load")) == [
        "USE [master]",
        "GRANT VIEW SERVER STATE TO [dms_user]",
    ]


def test_tables_are_selected_by_the_catalog_patterns_escaped_like_dms(entries: dict[str, DatabaseEntry]) -> None:
    enable = next(s for s in database_statements(entries["sales_eu"], PrereqOptions()) if "sp_cdc_enable_table" in s)
    assert "(s.name LIKE N'dbo' OR s.name LIKE N'sales[_]%')" in enable
    assert "NOT (s.name LIKE N'sales[_]tmp')" in enable
    assert "NOT (t.name LIKE N'tmp[_]%' OR t.name LIKE N'[[]old]%')" in enable
    assert "t.is_tracked_by_cdc = 0" in enable


def test_hostile_names_stay_inside_their_quotes(entries: dict[str, DatabaseEntry]) -> None:
    odd = entries["odd"]
    statements = database_statements(odd, PrereqOptions())
    assert statements[0] == "USE [Odd]]Name%'x]"
    assert "CREATE USER [dms]]o'user] FOR LOGIN [dms]]o'user]" in statements[3]
    # RAISERROR formats printf-style: the '%' of the name is doubled in its message
    assert "Odd]Name%%''x must use the FULL recovery model" in statements[1]
    enable = next(s for s in statements if "sp_cdc_enable_table" in s)
    assert "t.name LIKE N'it''s[_]%'" in enable


def test_a_polling_interval_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="86399"):
        PrereqOptions(polling_interval_seconds=86_400)


# --- found vs needed -------------------------------------------------------------------------

READY_ROWS: dict[str, list[tuple[object, ...]]] = {
    "login": [("dms_user",)],
    "server_permissions": [("CONNECT SQL",), ("VIEW SERVER STATE",)],
    "database": [("FULL", True)],
    "user": [("dms_user",)],
    "roles": [("db_owner",)],
    "database_permissions": [("CONNECT",), ("VIEW DATABASE STATE",), ("VIEW DEFINITION",)],
    "tables": [("dbo", "Orders", True), ("dbo", "Customers", True)],
    "capture_job": [(86399,)],
    "full_backup": [(datetime(2026, 11, 27, 2, 0),)],
    "partition_columns": [("dbo", "Orders", "OrderId", False)],
}


def test_a_ready_source_misses_nothing(entries: dict[str, DatabaseEntry]) -> None:
    found = found_from_rows(READY_ROWS)
    assert found.recovery_model == "FULL" and found.capture_polling_interval == 86399
    assert missing_prerequisites(entries["sales_eu"], PrereqOptions(), found) == []


def test_every_gap_is_named(entries: dict[str, DatabaseEntry]) -> None:
    rows: dict[str, list[tuple[object, ...]]] = {
        **READY_ROWS,
        "login": [],
        "server_permissions": [("CONNECT SQL",)],
        "database": [("SIMPLE", False)],
        "user": [],
        "roles": [("db_datareader",)],
        "database_permissions": [],
        "tables": [("dbo", "Orders", False), ("dbo", "Customers", True)],
        "capture_job": [],
        "full_backup": [(None,)],
        "partition_columns": [("dbo", "Orders", "OrderId", True)],
    }
    missing = missing_prerequisites(entries["sales_eu"], PrereqOptions(), found_from_rows(rows))
    expected = [
        "login dms_user does not exist",
        "lacks VIEW SERVER STATE",
        "no database user",
        "not a member of db_owner",
        "lacks VIEW DATABASE STATE",
        "lacks VIEW DEFINITION",
        "OrderId is nullable",
        "recovery model is SIMPLE",
        "no full backup",
        "MS-CDC is not enabled",
        "1 selected table(s) not tracked by MS-CDC: dbo.Orders",
    ]
    for text in expected:
        assert any(text in m for m in missing), (text, missing)
    assert len(missing) == len(expected)


def test_full_load_only_needs_no_cdc(entries: dict[str, DatabaseEntry]) -> None:
    found = FoundDatabase(
        login_exists=True,
        server_permissions=frozenset({"VIEW SERVER STATE"}),
        recovery_model="SIMPLE",
        user_exists=True,
        roles=frozenset({"db_datareader"}),
        database_permissions=frozenset({"VIEW DATABASE STATE", "VIEW DEFINITION"}),
        tables=(("dbo", "t", False),),
    )
    options = PrereqOptions(mode="full-load")
    assert missing_prerequisites(entries["crm"], options, found) == []
    nothing = found.model_copy(update={"tables": ()})
    assert missing_prerequisites(entries["crm"], options, nothing) == [
        "CRM: the catalog's patterns select no table (DMS would capture nothing)"
    ]


class ScriptedCursor:
    """Answers each check query as a SQL Server would, from rows keyed by query text."""

    def __init__(self, answers: dict[str, list[tuple[object, ...]] | Exception]) -> None:
        self.answers = answers
        self.last: list[tuple[object, ...]] = []

    def execute(self, operation: str) -> object:
        answer = self.answers[operation]
        if isinstance(answer, Exception):
            raise answer
        self.last = answer
        return self

    def fetchall(self) -> list[tuple[object, ...]]:
        return self.last


def test_check_queries_run_through_a_cursor_into_the_comparison(entries: dict[str, DatabaseEntry]) -> None:
    queries = check_queries(entries["sales_eu"], PrereqOptions())
    answers: dict[str, list[tuple[object, ...]] | Exception] = {queries[k]: READY_ROWS[k] for k in queries}
    answers[queries["capture_job"]] = RuntimeError("Invalid object name 'msdb.dbo.cdc_jobs'.\nmore")
    rows, errors = run_check_queries(ScriptedCursor(answers), queries)
    assert errors == {"capture_job": "Invalid object name 'msdb.dbo.cdc_jobs'."}
    missing = missing_prerequisites(entries["sales_eu"], PrereqOptions(), found_from_rows(rows))
    assert missing == ["Sales_EU: capture job polling interval is None, expected 86399"]


# --- the command -----------------------------------------------------------------------------

runner = CliRunner()


def write_catalog(tmp_path: Path) -> Path:
    path = tmp_path / "catalog.yaml"
    path.write_text(CATALOG, encoding="utf-8")
    return path


def test_prereqs_command_writes_the_script(tmp_path: Path, entries: dict[str, DatabaseEntry]) -> None:
    catalog = write_catalog(tmp_path)
    result = runner.invoke(app, ["prereqs", "--catalog", str(catalog), "--rds"])
    assert result.exit_code == 0, result.output
    assert result.stdout == prerequisites_script(mssql(entries), PrereqOptions(variant="rds"))
    assert "skipped (not mssql:// sources): local" in result.stderr
    out = tmp_path / "prereqs.sql"
    result = runner.invoke(
        app, ["prereqs", "--catalog", str(catalog), "--full-load-only", "--databases", "crm", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8") == prerequisites_script([entries["crm"]], PrereqOptions(mode="full-load"))


def test_prereqs_sizes_writes_the_size_queries(tmp_path: Path, entries: dict[str, DatabaseEntry]) -> None:
    catalog = write_catalog(tmp_path)
    result = runner.invoke(app, ["prereqs", "--catalog", str(catalog), "--sizes", "--databases", "crm,local"])
    assert result.exit_code == 0, result.output
    assert result.stdout == sizes_script([entries["crm"]])
    assert "skipped (not mssql:// sources): local" in result.stderr
    result = runner.invoke(app, ["prereqs", "--catalog", str(catalog), "--sizes", "--check"])
    assert result.exit_code == 2
    assert "cannot be combined with --check" in result.stderr


def test_prereqs_check_without_a_driver_says_what_to_install(tmp_path: Path) -> None:
    if driver_available():
        pytest.skip("a SQL Server driver is installed here")
    result = runner.invoke(app, ["prereqs", "--catalog", str(write_catalog(tmp_path)), "--check"])
    assert result.exit_code == 2
    assert DRIVER_MISSING in result.stderr


def test_prereqs_refuses_unknown_databases(tmp_path: Path) -> None:
    result = runner.invoke(app, ["prereqs", "--catalog", str(write_catalog(tmp_path)), "--databases", "nope"])
    assert result.exit_code == 2
    assert "no database named 'nope'" in result.output

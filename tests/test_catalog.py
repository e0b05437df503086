"""The fleet catalog: parsing, validation with located problems, selection and overrides."""

from __future__ import annotations

import sqlite3
import textwrap
from pathlib import Path

import pytest
from pydantic import ValidationError

from sqlfleet.catalog import (
    Catalog,
    DatabaseEntry,
    Partition,
    Selection,
    TableOption,
    apply_enabled_overrides,
    like_match,
    load_catalog,
    parse_catalog,
    render_catalog,
    select_databases,
)
from sqlfleet.errors import CatalogError


def make_sqlite(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    return path


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def problems_of(exc: pytest.ExceptionInfo[CatalogError]) -> list[str]:
    return exc.value.problems


def entry(name: str, enabled: bool = True, **extra: object) -> DatabaseEntry:
    return DatabaseEntry.model_validate({"name": name, "enabled": enabled, "source": "sqlite:////x.db", **extra})


# --- parsing a valid catalog -----------------------------------------------------------------


def test_valid_catalog_resolves_sqlite_paths_against_the_catalog_folder(tmp_path: Path, monkeypatch):
    conf = tmp_path / "conf"
    db_file = make_sqlite(conf / "sources" / "sales_eu.db")
    abs_file = make_sqlite(tmp_path / "elsewhere" / "abs.db")
    path = write(
        conf / "catalog.yaml",
        f"""
        databases:
          - name: sales_eu
            enabled: true
            source: sqlite:///sources/sales_eu.db
          - name: abs-db
            enabled: false
            source: sqlite:///{abs_file}
          - name: hr
            enabled: true
            source: mssql://sql01.corp:1433/HR
            credentials: {{username: etl, password_secret: hr-sql-password}}
        """,
    )
    monkeypatch.chdir(tmp_path / "elsewhere")  # the cwd must not matter

    catalog = load_catalog(Path("../conf/catalog.yaml"))

    sales, absolute, hr = catalog.databases
    assert catalog.origin == "../conf/catalog.yaml"
    assert sales.source == f"sqlite:///{db_file}"
    assert sales.source.startswith("sqlite:////")
    assert sales.sqlite_path == db_file
    assert sales.source_kind == "sqlite"
    assert absolute.sqlite_path == abs_file
    assert absolute.enabled is False
    assert hr.source == "mssql://sql01.corp:1433/HR"
    assert hr.source_kind == "mssql"
    assert hr.credentials is not None
    assert hr.credentials.password_secret == "hr-sql-password"
    with pytest.raises(ValueError, match="not a sqlite source"):
        _ = hr.sqlite_path
    assert load_catalog(path) == catalog.model_copy(update={"origin": str(path)})


def test_defaults_apply_unless_a_database_sets_the_key(tmp_path: Path):
    make_sqlite(tmp_path / "a.db")
    text = """
        defaults:
          views: false
          max_full_load_subtasks: 4
          lob_max_size_kb: 64
          tables: {exclude: ["tmp%"]}
        databases:
          - {name: a, enabled: true, source: "sqlite:///a.db"}
          - name: b
            enabled: true
            source: sqlite:///a.db
            views: true
            max_full_load_subtasks: 12
            tables: {include: ["Sales%"]}
        """
    a, b = parse_catalog(textwrap.dedent(text), "c.yaml", tmp_path).databases

    assert (a.views, a.max_full_load_subtasks, a.lob_max_size_kb) == (False, 4, 64)
    assert a.tables == Selection(include=("%",), exclude=("tmp%",))
    assert (b.views, b.max_full_load_subtasks, b.lob_max_size_kb) == (True, 12, 64)
    assert b.tables == Selection(include=("Sales%",), exclude=())
    assert (a.default_schema, a.schemas) == ("dbo", Selection())


def test_builtin_defaults_without_a_defaults_section(tmp_path: Path):
    text = "databases:\n  - {name: a, enabled: true, source: 'sqlite:///a.db'}\n"
    (db,) = parse_catalog(text, "c.yaml", tmp_path, check_sources=False).databases
    assert (db.views, db.max_full_load_subtasks, db.lob_max_size_kb) == (True, 8, 32)
    assert db.table_options == ()
    assert db.credentials is None


def test_empty_databases_list_is_a_valid_empty_fleet(tmp_path: Path):
    assert parse_catalog("databases: []\n", "c.yaml", tmp_path).databases == ()


# --- every problem at once -------------------------------------------------------------------

MANY_MISTAKES = """\
defaults:
  views: false
  colour: blue
databases:
  - name: good
    enabled: true
    source: sqlite:///sources/good.db
    enbled: false
  - name: 9lives
    enabled: "yes"
    source: sqlite:///sources/missing.db
    max_full_load_subtasks: 50
  - name: a_b
    enabled: true
    source: sqlite:///sources/good.db
  - name: A-b
    enabled: true
    source: postgres://db/x
  - name: no_source
    enabled: true
    table_options:
      - table: dbo.Orders
        partition: {mode: ranges, column: Id, boundaries: [200, 100]}
      - table: Orders
        partition: {mode: ranges}
  - name: patterns
    source: sqlite:///sources/good.db
    tables: {include: [""], exclude: ["tmp%"]}
"""

EXPECTED_PROBLEMS = [
    (3, "defaults.colour: unknown key 'colour'"),
    (8, "databases[0] (good).enbled: unknown key 'enbled' (did you mean 'enabled'?)"),
    (9, "databases[1] (9lives).name: invalid database name '9lives'"),
    (10, "databases[1] (9lives).enabled: Input should be a valid boolean (got 'yes')"),
    (11, "databases[1] (9lives).source: SQLite file not found: "),
    (12, "databases[1] (9lives).max_full_load_subtasks: Input should be less than or equal to 49"),
    (16, "databases[3] (A-b).name: duplicate database name 'A-b': same as 'a_b' (databases[2], line 13)"),
    (18, "databases[3] (A-b).source: unsupported source 'postgres://db/x'"),
    (19, "databases[4] (no_source).source: missing required key"),
    (23, "databases[4] (no_source).table_options[0] (dbo.Orders).partition: boundaries must be strictly"),
    (24, "databases[4] (no_source).table_options[1] (Orders).table: table 'Orders' must be written"),
    (
        25,
        "databases[4] (no_source).table_options[1] (Orders).partition: partition mode 'ranges' needs column",
    ),
    (26, "databases[5] (patterns).enabled: missing required key"),
    (28, "databases[5] (patterns).tables.include[0]: an empty pattern matches no name"),
]


def test_one_error_lists_every_problem_with_its_line(tmp_path: Path):
    make_sqlite(tmp_path / "sources" / "good.db")
    path = write(tmp_path / "c.yaml", MANY_MISTAKES)

    with pytest.raises(CatalogError) as exc:
        load_catalog(path, check_sources=True)

    problems = problems_of(exc)
    assert exc.value.source == str(path)
    for line, fragment in EXPECTED_PROBLEMS:
        expected = f"{path}:{line}: {fragment}"
        assert any(p.startswith(expected) for p in problems), f"missing {expected!r} in {problems}"
    assert len(problems) == len(EXPECTED_PROBLEMS), problems
    lines = [int(p.split(":")[1]) for p in problems]
    assert lines == sorted(lines)


def test_size_mb_states_a_database_size_in_megabytes(tmp_path: Path) -> None:
    text = """\
databases:
  - {name: a, enabled: true, source: "mssql://sql1/A", size_mb: 1250.5}
  - {name: b, enabled: true, source: "mssql://sql1/B", size_mb: 40}
  - {name: c, enabled: true, source: "mssql://sql1/C"}
"""
    a, b, c = parse_catalog(text, "c.yaml", tmp_path).databases
    assert (a.size_mb, b.size_mb, c.size_mb) == (1250.5, 40.0, None)
    assert (a.size_hint_bytes, b.size_hint_bytes, c.size_hint_bytes) == (1_311_244_288, 41_943_040, None)


SIZE_MISTAKES = """\
defaults:
  size_mb: 100
databases:
  - name: zero
    enabled: true
    source: mssql://sql1/Zero
    size_mb: 0
  - name: negative
    enabled: true
    source: mssql://sql1/Negative
    size_mb: -5
  - name: text
    enabled: true
    source: mssql://sql1/Text
    size_mb: "500"
  - name: flag
    enabled: true
    source: mssql://sql1/Flag
    size_mb: true
  - name: endless
    enabled: true
    source: mssql://sql1/Endless
    size_mb: .inf
"""


def test_invalid_sizes_are_listed_at_once_with_their_lines(tmp_path: Path) -> None:
    with pytest.raises(CatalogError) as exc:
        parse_catalog(SIZE_MISTAKES, "c.yaml", tmp_path)
    # One size for the whole fleet would rank nothing: size_mb is not a default.
    assert problems_of(exc) == [
        "c.yaml:2: defaults.size_mb: unknown key 'size_mb'",
        "c.yaml:7: databases[0] (zero).size_mb: Input should be greater than 0 (got 0)",
        "c.yaml:11: databases[1] (negative).size_mb: Input should be greater than 0 (got -5)",
        "c.yaml:15: databases[2] (text).size_mb: Input should be a valid number (got '500')",
        "c.yaml:19: databases[3] (flag).size_mb: Input should be a valid number (got True)",
        "c.yaml:23: databases[4] (endless).size_mb: Input should be a finite number (got inf)",
    ]


def test_check_sources_false_skips_only_the_file_checks(tmp_path: Path):
    text = "databases:\n  - {name: a, enabled: true, source: 'sqlite:///nope.db'}\n"
    assert parse_catalog(text, "c.yaml", tmp_path, check_sources=False).databases[0].name == "a"
    with pytest.raises(CatalogError) as exc:
        parse_catalog(text, "c.yaml", tmp_path, check_sources=True)
    assert problems_of(exc) == [f"c.yaml:2: databases[0] (a).source: SQLite file not found: {tmp_path / 'nope.db'}"]


def test_a_file_that_is_not_sqlite_is_reported(tmp_path: Path):
    (tmp_path / "text.db").write_text("hello, not a database " * 20)
    text = "databases:\n  - {name: a, enabled: true, source: 'sqlite:///text.db'}\n"
    with pytest.raises(CatalogError) as exc:
        parse_catalog(text, "c.yaml", tmp_path)
    (problem,) = problems_of(exc)
    assert problem.startswith("c.yaml:2: databases[0] (a).source: not a readable SQLite database")


def test_yaml_syntax_error_reports_its_line(tmp_path: Path):
    text = "databases:\n  - name: a\n    enabled: true\n   source: [oops\n"
    with pytest.raises(CatalogError) as exc:
        parse_catalog(text, "c.yaml", tmp_path)
    (problem,) = problems_of(exc)
    assert problem.startswith("c.yaml:4: YAML syntax error")


def test_duplicate_yaml_key_is_reported_at_the_second_occurrence(tmp_path: Path):
    text = "databases:\n  - name: a\n    enabled: true\n    enabled: false\n    source: sqlite:////x.db\n"
    with pytest.raises(CatalogError) as exc:
        parse_catalog(text, "c.yaml", tmp_path, check_sources=False)
    assert problems_of(exc) == [
        "c.yaml:4: databases[0] (a).enabled: duplicate key 'enabled' (YAML keeps only the last one)"
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "c.yaml:1: (top level): the catalog must be a mapping"),
        ("- a\n", "c.yaml:1: (top level): the catalog must be a mapping"),
        ("defaults: {}\n", "c.yaml:1: (top level): missing required key 'databases'"),
        ("databases: {a: 1}\n", "c.yaml:1: databases: must be a list of databases"),
        (
            "databases: []\ndatabase: []\n",
            "c.yaml:2: database: unknown key 'database' (did you mean 'databases'?)",
        ),
        ("databases:\n  - just-a-name\n", "c.yaml:2: databases[0]: each database must be a mapping"),
    ],
)
def test_top_level_shape_problems(tmp_path: Path, text: str, expected: str):
    with pytest.raises(CatalogError) as exc:
        parse_catalog(text, "c.yaml", tmp_path)
    (problem,) = problems_of(exc)
    assert problem.startswith(expected)


def test_missing_catalog_file_is_one_problem(tmp_path: Path):
    with pytest.raises(CatalogError) as exc:
        load_catalog(tmp_path / "absent.yaml")
    (problem,) = problems_of(exc)
    assert problem.startswith(f"{tmp_path / 'absent.yaml'}: catalog file not found")


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("mssql://etl:secret@host:1433/Db", "put the login in 'credentials'"),
        ("mssql://host:14x/Db", "bad port"),
        ("mssql://host:1433", "must look like mssql://host:1433/Database"),
        ("sqlite://relative.db", "unsupported source"),
    ],
)
def test_bad_source_urls(source: str, message: str):
    with pytest.raises(ValidationError, match=message):
        entry("a", source=source)


@pytest.mark.parametrize("name", ["a" * 65, "a b", "db.1", "_a", "ab_", "a__b", "a-_b", "été"])
def test_invalid_database_names(name: str):
    with pytest.raises(ValidationError, match="invalid database name"):
        entry(name)


@pytest.mark.parametrize("name", ["a", "a" * 64, "Sales_EU-2", "x1"])
def test_valid_database_names(name: str):
    assert entry(name).name == name


def test_catalog_rejects_colliding_names_when_built_directly():
    with pytest.raises(ValidationError, match="collide"):
        Catalog(databases=(entry("Sales_EU"), entry("sales-eu")), origin="t")


def test_partition_rules():
    assert Partition(mode="ranges", column="Id", boundaries=(10, 20.5, 30)).boundaries == (10, 20.5, 30)
    assert Partition(mode="ranges", column="Code", boundaries=("B", "M")).column == "Code"
    assert Partition(mode="auto").boundaries == ()
    with pytest.raises(ValidationError, match="takes no column or boundaries"):
        Partition(mode="auto", column="Id")
    with pytest.raises(ValidationError, match="all numbers or all strings"):
        Partition(mode="ranges", column="Id", boundaries=(1, "b"))
    with pytest.raises(ValidationError, match="strictly increasing"):
        Partition(mode="ranges", column="Id", boundaries=(1, 1))
    with pytest.raises(ValidationError, match="needs boundaries"):
        Partition(mode="ranges", column="Id")


def test_table_option_names():
    option = TableOption(table="dbo.Sales Order.Line", big=True, partition=Partition(mode="auto"))
    assert (option.schema_name, option.table_name) == ("dbo", "Sales Order.Line")
    for bad in ("Orders", ".Orders", "dbo.", "dbo.a/b"):
        with pytest.raises(ValidationError):
            TableOption(table=bad)
    with pytest.raises(ValidationError, match="both describe"):
        entry("a", table_options=[{"table": "dbo.T"}, {"table": "DBO.t"}])


# --- patterns and selection ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [
        ("%", "anything", True),
        ("%", "", True),
        ("tmp%", "tmp_orders", True),
        ("tmp%", "orders_tmp", False),
        ("%tmp", "orders_tmp", True),
        ("%ord%", "big_orders_2024", True),
        ("a_c", "a_c", True),
        ("a_c", "abc", False),  # '_' is a literal underscore, not DMS's any-character wildcard
        ("Sales", "SALES", True),
        ("SALES%", "sales_eu", True),
        ("sales", "sales_eu", False),  # anchored at the end
        ("eu", "sales_eu", False),  # anchored at the start
        ("a.c", "abc", False),  # regex characters are literal
        ("[_]x", "_x", False),
        ("a%b%c", "aXbYc", True),
        ("a%b%c", "aXbY", False),
    ],
)
def test_like_match(pattern: str, name: str, expected: bool):
    assert like_match(pattern, name) is expected


def test_wants_table_applies_schema_and_table_includes_and_excludes():
    db = entry(
        "a",
        schemas={"include": ["dbo", "sales%"], "exclude": ["sales_archive"]},
        tables={"include": ["%"], "exclude": ["tmp%", "%_bak"]},
    )
    assert db.wants_table("dbo", "Orders")
    assert db.wants_table("DBO", "orders")
    assert db.wants_table("sales_eu", "Orders")
    assert not db.wants_table("hr", "Orders")
    assert not db.wants_table("sales_archive", "Orders")
    assert not db.wants_table("dbo", "tmp_load")
    assert not db.wants_table("dbo", "Orders_bak")
    assert db.wants_table("dbo", "Ordersbak")
    assert entry("b").wants_table("any", "thing")


def test_option_for_matches_schema_and_table_exactly_ignoring_case():
    big = {"table": "dbo.Sales Order Line", "big": True, "partition": {"mode": "auto"}, "key_columns": ["Id"]}
    db = entry("a", table_options=[big, {"table": "hr.People"}])
    option = db.option_for("DBO", "sales order line")
    assert option is not None
    assert option.big
    assert option.key_columns == ("Id",)
    assert db.option_for("hr", "People") == TableOption(table="hr.People")
    assert db.option_for("dbo", "Sales Order") is None
    assert db.option_for("hr", "Sales Order Line") is None


# --- overrides and selection of databases ----------------------------------------------------


def three_databases() -> Catalog:
    return Catalog(databases=(entry("a"), entry("b", enabled=False), entry("c_d")), origin="c.yaml")


def test_apply_enabled_overrides_flips_flags_and_warns():
    catalog = three_databases()
    overrides = {"a": False, "b": True, "zzz": True, "c_d": "yes", "C-D": False}

    updated, warnings = apply_enabled_overrides(catalog, overrides, origin="Prefect Variable sqlfleet_enabled")

    assert [db.enabled for db in updated.databases] == [False, True, True]
    assert [db.enabled for db in catalog.databases] == [True, False, True]  # the input is untouched
    assert len(warnings) == 3
    assert any("'zzz'" in w and "not a database" in w for w in warnings)
    assert any("'c_d'" in w and "expected true or false" in w for w in warnings)
    assert any("'C-D'" in w and "did you mean 'c_d'" in w for w in warnings)
    assert all(w.startswith("Prefect Variable sqlfleet_enabled: ") for w in warnings)


def test_apply_enabled_overrides_without_overrides():
    catalog = three_databases()
    assert apply_enabled_overrides(catalog, {}) == (catalog, [])
    assert apply_enabled_overrides(catalog, None) == (catalog, [])


@pytest.mark.parametrize("bad", [["a"], "a", 1, True])
def test_apply_enabled_overrides_rejects_a_non_object(bad: object):
    with pytest.raises(CatalogError) as exc:
        apply_enabled_overrides(three_databases(), bad, origin="Prefect Variable sqlfleet_enabled")
    assert exc.value.source == "Prefect Variable sqlfleet_enabled"
    (problem,) = problems_of(exc)
    assert "must be a JSON object" in problem


def test_select_databases():
    catalog = three_databases()
    assert [db.name for db in select_databases(catalog)] == ["a", "c_d"]
    # named databases are returned in catalog order, disabled ones included
    assert [db.name for db in select_databases(catalog, ["c_d", "b"])] == ["b", "c_d"]
    assert select_databases(catalog, []) == []
    with pytest.raises(CatalogError) as exc:
        select_databases(catalog, ["a", "nope", "c-d", "nope"])
    assert problems_of(exc) == ["c.yaml: no database named 'nope'", "c.yaml: no database named 'c-d'"]
    with pytest.raises(TypeError):
        select_databases(catalog, "a")


# --- rendering -------------------------------------------------------------------------------


def test_render_catalog_round_trips(tmp_path: Path):
    make_sqlite(tmp_path / "sources" / "db001.db")
    entries: list[dict[str, object]] = [
        {"name": "db001", "enabled": True, "source": "sqlite:///sources/db001.db"},
        {
            "name": "db-002",
            "enabled": False,
            "source": "mssql://sql01:1433/Sales",
            "credentials": {"username": "etl", "password_secret": "sql01-password"},
            "tables": {"include": ("%",), "exclude": ("tmp%",)},
            "max_full_load_subtasks": 16,
            "table_options": [
                {
                    "table": "dbo.Orders",
                    "big": True,
                    "partition": {"mode": "ranges", "column": "Id", "boundaries": (1000, 2000)},
                },
            ],
        },
    ]
    path = tmp_path / "catalog.yaml"
    path.write_text(render_catalog(entries), encoding="utf-8")

    first, second = load_catalog(path).databases

    assert first == DatabaseEntry(name="db001", enabled=True, source=f"sqlite:///{tmp_path / 'sources' / 'db001.db'}")
    assert second == DatabaseEntry.model_validate(entries[1])
    option = second.option_for("dbo", "orders")
    assert option is not None
    assert option.partition == Partition(mode="ranges", column="Id", boundaries=(1000, 2000))


def test_render_catalog_refuses_invalid_entries():
    with pytest.raises(CatalogError) as exc:
        render_catalog([{"name": "a", "enabled": True}])
    assert problems_of(exc) == ["rendered catalog:3: databases[0] (a).source: missing required key"]

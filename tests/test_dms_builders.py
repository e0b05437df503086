"""Pure DMS builders: table mappings, task settings, endpoint settings, identifiers (golden files).

Goldens live in ``tests/golden/dms``; ``UPDATE_GOLDEN=1`` rewrites them. Every mapping golden is
also checked against the DMS rules by ``validate_table_mappings``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import SecretStr

from sqlfleet import layout
from sqlfleet.catalog import DatabaseEntry, like_match, parse_catalog
from sqlfleet.dms.endpoints import FORBIDDEN_S3_KEYS, s3_target_settings, sqlserver_source_settings
from sqlfleet.dms.mappings import build_table_mappings, dms_pattern
from sqlfleet.dms.names import (
    endpoint_identifier,
    instance_identifier,
    shared_target_endpoint_identifier,
    task_identifier,
)
from sqlfleet.dms.task_settings import build_task_settings
from sqlfleet.dms.validate import validate_table_mappings
from sqlfleet.errors import ConfigError

GOLDEN = Path(__file__).parent / "golden" / "dms"
ROLE = "arn:aws:iam::123456789012:role/sqlfleet-dms-s3"
SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:sales-eu-AbCdEf"
DMS_ID = re.compile(r"^[a-z](?:[a-z0-9]|-(?!-))*(?<!-)$")

CATALOG = f"""
defaults:
  credentials: {{username: dms_reader, password_secret: "{SECRET}"}}
databases:
  - name: sales_eu
    enabled: true
    source: mssql://sql1.example.com:1433/Sales_EU
    schemas: {{include: ["dbo", "sales_%"], exclude: ["sales_tmp"]}}
    tables: {{include: ["%"], exclude: ["tmp_%", "[old]%"]}}
    max_full_load_subtasks: 12
    lob_max_size_kb: 4096
    table_options:
      - table: dbo.Order_Lines
        big: true
        partition: {{mode: ranges, column: OrderId, boundaries: [1000000, 2000000]}}
      - {{table: "dbo.Orders", big: true}}
      - {{table: "archive.Orders", big: true}}
      - {{table: "dbo.Customers", key_columns: [CustomerId]}}
  - name: crm
    enabled: true
    source: mssql://sql2.example.com/CRM
    credentials: {{username: dms_reader, password_secret: crm-password}}
    views: false
"""


@pytest.fixture(scope="module")
def entries() -> dict[str, DatabaseEntry]:
    catalog = parse_catalog(CATALOG, "test-catalog", Path("."), check_sources=False)
    return {db.name: db for db in catalog.databases}


def check_golden(name: str, text: str) -> None:
    """Compare ``text`` with ``golden/dms/<name>``; ``UPDATE_GOLDEN=1`` rewrites it."""
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n", encoding="utf-8")
    assert path.read_text(encoding="utf-8") == text + "\n", f"golden {name} differs (UPDATE_GOLDEN=1 rewrites)"


MAPPING_CASES: dict[str, Callable[[dict[str, DatabaseEntry]], str]] = {
    "mappings_full_load.json": lambda e: build_table_mappings(e["sales_eu"], "full-load"),
    "mappings_cdc.json": lambda e: build_table_mappings(e["sales_eu"], "cdc"),
    "mappings_full_load_and_cdc_shared.json": lambda e: build_table_mappings(
        e["sales_eu"], "full-load-and-cdc", strategy="shared-endpoint"
    ),
    "mappings_full_load_no_views.json": lambda e: build_table_mappings(e["crm"], "full-load"),
}


@pytest.mark.parametrize("name", sorted(MAPPING_CASES))
def test_table_mappings_golden_and_valid(name: str, entries: dict[str, DatabaseEntry]) -> None:
    text = MAPPING_CASES[name](entries)
    check_golden(name, text)
    assert validate_table_mappings(text) == []
    assert text == MAPPING_CASES[name](entries), "the builder is deterministic"


@pytest.mark.parametrize("path", sorted(GOLDEN.glob("mappings_*.json")), ids=lambda p: p.name)
def test_every_mapping_golden_follows_the_dms_rules(path: Path) -> None:
    assert validate_table_mappings(path.read_text(encoding="utf-8")) == []


def rules(text: str) -> list[dict[str, object]]:
    return list(json.loads(text)["rules"])


def test_views_are_selected_only_by_full_loads(entries: dict[str, DatabaseEntry]) -> None:
    def table_types(text: str) -> set[object]:
        return {r["object-locator"]["table-type"] for r in rules(text) if r["rule-type"] == "selection"}  # type: ignore[index]

    assert table_types(build_table_mappings(entries["sales_eu"], "full-load")) == {"all"}
    assert table_types(build_table_mappings(entries["sales_eu"], "cdc")) == {"table"}
    assert table_types(build_table_mappings(entries["sales_eu"], "full-load-and-cdc")) == {"table"}
    assert table_types(build_table_mappings(entries["crm"], "full-load")) == {"table"}  # views: false


def test_change_sequence_column_only_in_cdc_modes(entries: dict[str, DatabaseEntry]) -> None:
    def added(text: str) -> list[object]:
        return [r["expression"] for r in rules(text) if r.get("rule-action") == "add-column"]

    assert added(build_table_mappings(entries["sales_eu"], "full-load")) == []
    assert added(build_table_mappings(entries["sales_eu"], "cdc")) == ["$AR_H_CHANGE_SEQ"]
    assert added(build_table_mappings(entries["sales_eu"], "full-load-and-cdc")) == ["$AR_H_CHANGE_SEQ"]
    with pytest.raises(ValueError, match="change sequence column"):
        build_table_mappings(entries["sales_eu"], "cdc", change_seq_column="change-seq")


def test_parallel_load_only_for_selected_big_tables_in_full_loads(entries: dict[str, DatabaseEntry]) -> None:
    def parallel(text: str) -> dict[str, object]:
        return {
            f"{r['object-locator']['schema-name']}.{r['object-locator']['table-name']}": r["parallel-load"]  # type: ignore[index]
            for r in rules(text)
            if r["rule-type"] == "table-settings"
        }

    full = parallel(build_table_mappings(entries["sales_eu"], "full-load"))
    # archive is not a selected schema; Customers is not big.
    assert full == {
        "dbo.Order_Lines": {"type": "ranges", "columns": ["OrderId"], "boundaries": [["1000000"], ["2000000"]]},
        "dbo.Orders": {"type": "partitions-auto"},
    }
    assert parallel(build_table_mappings(entries["sales_eu"], "cdc")) == {}


def test_shared_endpoint_prefix_maps_back_to_the_per_database_layout(entries: dict[str, DatabaseEntry]) -> None:
    shared = rules(build_table_mappings(entries["sales_eu"], "full-load", strategy="shared-endpoint"))
    prefix = [r for r in shared if r.get("rule-action") == "add-prefix"]
    assert len(prefix) == 1 and prefix[0]["rule-target"] == "schema"
    renamed = f"{prefix[0]['value']}dbo"
    assert layout.split_shared_schema(renamed) == ("sales_eu", "dbo")
    # DMS writes BucketFolder/<renamed schema>/<table>/...; with BucketFolder = the lake root
    # that is the per-database key, which parse_key reads unchanged.
    key = f"{renamed}/Orders/LOAD00000001.parquet"
    parsed = layout.parse_key(key)
    assert parsed is not None and (parsed.database, parsed.schema_name, parsed.table) == ("sales_eu", "dbo", "Orders")
    assert key == layout.load_file_key("sales_eu", "dbo", "Orders", 1)
    per_db = rules(build_table_mappings(entries["sales_eu"], "full-load"))
    assert not [r for r in per_db if r["rule-type"] == "transformation"]


def dms_like(pattern: str, name: str) -> bool:
    """A DMS selection pattern matcher: % any run, _ any one character, [..] a class."""
    regex, i = "", 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "[":
            end = pattern.index("]", i + 2)
            regex += "[" + re.escape(pattern[i + 1 : end]) + "]"
            i = end + 1
            continue
        regex += ".*" if ch == "%" else "." if ch == "_" else re.escape(ch)
        i += 1
    return re.fullmatch(regex, name, re.IGNORECASE | re.DOTALL) is not None


@pytest.mark.parametrize("pattern", ["tmp_%", "a_b", "%_x", "[old]%", "dbo", "%", "a%b_", "x[y]_z"])
def test_escaped_patterns_match_exactly_what_the_catalog_matches(pattern: str) -> None:
    names = ["tmp_orders", "tmpXorders", "a_b", "aXb", "1_x", "1x", "[old]t", "ot", "dbo", "ab_", "abX", "x[y]_z"]
    for name in names:
        assert dms_like(dms_pattern(pattern), name) == like_match(pattern, name), (pattern, name)


def test_builders_refuse_unknown_modes(entries: dict[str, DatabaseEntry]) -> None:
    with pytest.raises(ValueError, match="migration type"):
        build_table_mappings(entries["crm"], "bogus")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="strategy"):
        build_table_mappings(entries["crm"], "cdc", strategy="bogus")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="migration type"):
        build_task_settings(entries["crm"], "bogus")  # type: ignore[arg-type]


# --- validation of mappings ------------------------------------------------------------------


def doc(*rule_list: dict[str, object]) -> str:
    return json.dumps({"rules": list(rule_list)})


def include(rule_id: object = "1", name: str = "a", schema: str = "dbo", table: str = "%") -> dict[str, object]:
    return {
        "rule-type": "selection",
        "rule-id": rule_id,
        "rule-name": name,
        "object-locator": {"schema-name": schema, "table-name": table, "table-type": "table"},
        "rule-action": "include",
    }


def prefix_rule(rule_id: int) -> dict[str, object]:
    return {
        "rule-type": "transformation",
        "rule-id": str(rule_id),
        "rule-name": f"p{rule_id}",
        "rule-target": "schema",
        "object-locator": {"schema-name": "%"},
        "rule-action": "add-prefix",
        "value": "x/",
    }


def settings_rule(load: dict[str, object], table: str = "T", rule_id: str = "9") -> dict[str, object]:
    return {
        "rule-type": "table-settings",
        "rule-id": rule_id,
        "rule-name": f"ts{rule_id}",
        "object-locator": {"schema-name": "dbo", "table-name": table},
        "parallel-load": load,
    }


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{", "not JSON"),
        (json.dumps({"rules": []}), "at least one rule"),
        (doc(include("1", "a"), include("1", "b")), "rule-id 1 repeats"),
        (doc(include("1", "a"), include("2", "a")), "rule-name 'a' repeats"),
        (doc(include("x")), "rule-id must be a positive number"),
        (doc({**include(), "rule-action": "keep"}), "rule-action must be one of"),
        (doc({**include(), "rule-type": "select"}), "rule-type must be one of"),
        (doc(include(table="tmp_%")), "bare '_'"),
        (doc(include(table="[abc")), "unclosed '['"),
        (doc({**include(), "object-locator": {"schema-name": "dbo", "table-name": "%", "tabel-type": "x"}}), "unknown"),
        (doc({**include(), "rule-action": "exclude"}), "no selection rule includes anything"),
        (doc({**include(), "rule-action": "explicit", "rule-name": "e"}, include("2")), "explicit rule names one"),
        (doc(include(), settings_rule({"type": "partitions-auto"}, table="Ord%")), "exact table-name"),
        (doc(include(), settings_rule({"type": "subpartitions-auto"})), "Oracle only"),
        (doc(include(), settings_rule({"type": "ranges", "columns": ["a", "b"], "boundaries": [["1"]]})), "2 string"),
        (doc(include(), settings_rule({"type": "ranges", "columns": ["a"], "boundaries": [[1]]})), "string value"),
        (
            doc(
                include(),
                settings_rule({"type": "ranges", "columns": ["a"], "boundaries": [["1"]], "segment-names": ["s"]}),
            ),
            "segment-names",
        ),
        (doc(include(), settings_rule({"type": "spread"})), "parallel-load type"),
        (
            doc(
                include(),
                {
                    "rule-type": "transformation",
                    "rule-id": "2",
                    "rule-name": "t",
                    "rule-target": "column",
                    "object-locator": {"schema-name": "%", "table-name": "%"},
                    "rule-action": "add-column",
                    "value": "seq",
                },
            ),
            "data-type",
        ),
        (
            doc(
                include(),
                prefix_rule(2),
                prefix_rule(3),
            ),
            "one action per object",
        ),
    ],
)
def test_validation_reports_each_broken_rule(text: str, problem: str) -> None:
    problems = validate_table_mappings(text)
    assert any(problem in p for p in problems), problems


def test_validation_accepts_the_reference_example() -> None:
    # reference/dms.md §2, with segment names for the 3 boundaries (4 segments).
    example = doc(
        include(),
        {**include("2", "no-tmp", table="tmp[_]%"), "rule-action": "exclude"},
        settings_rule(
            {
                "type": "ranges",
                "columns": ["OrderId"],
                "boundaries": [["1000000"], ["2000000"], ["3000000"]],
                "segment-names": ["s1", "s2", "s3", "s4"],
            },
            table="Orders",
        ),
    )
    assert validate_table_mappings(example) == []


# --- task settings ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["full-load", "cdc"])
def test_task_settings_golden(mode: str, entries: dict[str, DatabaseEntry]) -> None:
    check_golden(f"task_settings_{mode.replace('-', '_')}.json", build_task_settings(entries["sales_eu"], mode))  # type: ignore[arg-type]


def test_task_settings_take_catalog_values_and_safe_defaults(entries: dict[str, DatabaseEntry]) -> None:
    full = json.loads(build_task_settings(entries["sales_eu"], "full-load"))
    assert full["FullLoadSettings"]["MaxFullLoadSubTasks"] == 12
    assert full["TargetMetadata"]["LobMaxSize"] == 4096 and full["TargetMetadata"]["LimitedSizeLobMode"] is True
    assert full["TargetMetadata"]["BatchApplyEnabled"] is False
    assert full["ErrorBehavior"]["TableErrorPolicy"] == "SUSPEND_TABLE"
    assert full["ErrorBehavior"]["FailOnNoTablesCaptured"] is True
    assert 0 <= full["ErrorBehavior"]["RecoverableErrorCount"] < 100
    assert full["FullLoadSettings"]["TargetTablePrepMode"] == "DROP_AND_CREATE"
    assert "ChangeProcessingDdlHandlingPolicy" not in full
    cdc = json.loads(build_task_settings(entries["sales_eu"], "cdc"))
    assert cdc["FullLoadSettings"]["TargetTablePrepMode"] == "DO_NOTHING"
    assert cdc["ChangeProcessingDdlHandlingPolicy"]["HandleSourceTableTruncated"] is False


def test_task_settings_overrides_merge_per_section(entries: dict[str, DatabaseEntry]) -> None:
    settings = json.loads(
        build_task_settings(
            entries["crm"],
            "full-load",
            overrides={"FullLoadSettings": {"CommitRate": 50000}, "ValidationSettings": {"EnableValidation": False}},
        )
    )
    assert settings["FullLoadSettings"] == {
        "TargetTablePrepMode": "DROP_AND_CREATE",
        "MaxFullLoadSubTasks": 8,
        "CommitRate": 50000,
    }
    assert settings["ValidationSettings"] == {"EnableValidation": False}


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"TargetMetadata": {"BatchApplyEnabled": True}}, "BatchApplyEnabled"),
        ({"TargetMetadata": {"FullLobMode": True}}, "FullLobMode"),
        ({"FullLoadSettings": {"MaxFullLoadSubTasks": 50}}, "MaxFullLoadSubTasks"),
        ({"FullLoadSettings": {"CommitRate": 60000}}, "CommitRate"),
        ({"ErrorBehavior": {"RecoverableErrorCount": -1}}, "RecoverableErrorCount"),
        ({"ErrorBehavior": {"TableErrorPolicy": "PANIC"}}, "TableErrorPolicy"),
        ({"FullLoadSettings": {"TargetTablePrepMode": "WIPE"}}, "TargetTablePrepMode"),
        ({"Logging": {"LogComponents": [{"Id": "SORTER", "Severity": "LOUD"}]}}, "LogComponents"),
    ],
)
def test_task_settings_refuse_values_dms_rejects_or_that_lose_data(
    overrides: dict[str, object], problem: str, entries: dict[str, DatabaseEntry]
) -> None:
    with pytest.raises(ConfigError, match=problem):
        build_task_settings(entries["crm"], "full-load", overrides=overrides)


# --- endpoint settings -----------------------------------------------------------------------


def test_s3_target_settings_golden_without_forbidden_keys() -> None:
    settings = s3_target_settings(
        bucket="acme-lake",
        bucket_folder=layout.bucket_folder("raw/sqlfleet", "sales_eu"),
        service_access_role_arn=ROLE,
    )
    check_golden("s3_target.json", json.dumps(settings, indent=2))
    assert settings["BucketFolder"] == "raw/sqlfleet/sales_eu"
    assert settings["DataFormat"] == "parquet" and settings["ParquetVersion"] == "parquet-2-0"
    assert settings["IncludeOpForFullLoad"] is True and settings["TimestampColumnName"] == "_dms_ts"
    assert (settings["CdcMaxBatchInterval"], settings["CdcMinFileSize"]) == (60, 32000)
    assert not FORBIDDEN_S3_KEYS & settings.keys()
    assert {"CdcPath", "PreserveTransactions", "BatchApplyEnabled"}.isdisjoint(settings)


def test_s3_target_without_a_folder_and_with_a_file_size() -> None:
    settings = s3_target_settings(
        bucket="acme-lake", bucket_folder=layout.bucket_folder(""), service_access_role_arn=ROLE, max_file_size_kb=1024
    )
    assert "BucketFolder" not in settings and settings["MaxFileSize"] == 1024


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"bucket": "Acme_Lake"}, "bucket"),
        ({"bucket_folder": "/lake/"}, "bucket folder"),
        ({"service_access_role_arn": "sqlfleet-dms-s3"}, "role"),
        ({"timestamp_column": ""}, "timestamp"),
        ({"cdc_min_file_size_kb": 0}, "CdcMinFileSize"),
    ],
)
def test_s3_target_settings_refuse_bad_input(kwargs: dict[str, object], problem: str) -> None:
    args: dict[str, object] = {"bucket": "acme-lake", "bucket_folder": "lake", "service_access_role_arn": ROLE}
    with pytest.raises(ConfigError, match=problem):
        s3_target_settings(**{**args, **kwargs})  # type: ignore[arg-type]


def test_bucket_folder_joins_root_and_database() -> None:
    assert layout.bucket_folder("/raw/sqlfleet/", "db1") == "raw/sqlfleet/db1"
    assert layout.bucket_folder("", "db1") == "db1"
    assert layout.bucket_folder("raw") == "raw"
    with pytest.raises(ValueError, match="database"):
        layout.bucket_folder("raw", "a/b")


def test_source_settings_by_secrets_manager_hold_no_clear_text(entries: dict[str, DatabaseEntry]) -> None:
    settings = sqlserver_source_settings(entries["sales_eu"], secrets_manager_access_role_arn=ROLE)
    check_golden("sqlserver_source_secret.json", json.dumps(settings, indent=2))
    assert settings == {
        "DatabaseName": "Sales_EU",
        "SecretsManagerSecretId": SECRET,
        "SecretsManagerAccessRoleArn": ROLE,
    }


def test_source_settings_with_a_password_never_show_it(entries: dict[str, DatabaseEntry]) -> None:
    settings = sqlserver_source_settings(entries["crm"], password=SecretStr("s3cr3t-Pa55"))
    assert settings["Password"] == "s3cr3t-Pa55"  # what boto3 sends
    assert (settings["ServerName"], settings["Port"], settings["DatabaseName"]) == ("sql2.example.com", 1433, "CRM")
    assert settings["Username"] == "dms_reader"
    for shown in (repr(settings), str(settings), f"{settings}", f"{[settings]}"):
        assert "s3cr3t-Pa55" not in shown


def test_source_settings_need_exactly_one_kind_of_credentials(entries: dict[str, DatabaseEntry]) -> None:
    with pytest.raises(ConfigError, match="no credentials"):
        sqlserver_source_settings(entries["crm"])  # a Prefect Secret block name: must be resolved first
    with pytest.raises(ConfigError, match="not both"):
        sqlserver_source_settings(
            entries["crm"],
            secrets_manager_secret_id=SECRET,
            secrets_manager_access_role_arn=ROLE,
            password=SecretStr("x"),
        )
    with pytest.raises(ConfigError, match="role"):
        sqlserver_source_settings(entries["sales_eu"])
    sqlite = DatabaseEntry(name="local", enabled=True, source="sqlite:////tmp/x.db")
    with pytest.raises(ConfigError, match="mssql"):
        sqlserver_source_settings(sqlite, password=SecretStr("x"))


# --- identifiers -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["sales_eu", "Sales-EU", "a", "x" * 300, "db-1"])
def test_endpoint_identifiers_follow_dms_rules(name: str) -> None:
    source, target = endpoint_identifier(name, "source"), endpoint_identifier(name, "target")
    for ident in (source, target):
        assert DMS_ID.match(ident) and len(ident) <= 255
    assert source != target
    assert endpoint_identifier(name, "source") == source  # deterministic
    assert source not in {task_identifier(name, "full-load"), task_identifier(name, "cdc")}


def test_shared_target_identifiers_cannot_collide_with_database_endpoints() -> None:
    instance = instance_identifier(1)
    shared = shared_target_endpoint_identifier(instance)
    assert DMS_ID.match(shared) and shared == "sqlfleet-01-lake"
    # a database named like the instance (or like the shared endpoint) still gets other ids
    for name in (instance, f"{instance}-lake", "sqlfleet-01-lake-target"):
        assert shared not in {endpoint_identifier(name, "source"), endpoint_identifier(name, "target")}


def test_instance_identifiers_are_numbered_and_short() -> None:
    assert [instance_identifier(i) for i in (1, 2, 10)] == ["sqlfleet-01", "sqlfleet-02", "sqlfleet-10"]
    assert instance_identifier(3, "acme") == "acme-03"
    assert all(DMS_ID.match(instance_identifier(i)) for i in range(1, 61))
    with pytest.raises(ValueError, match="index"):
        instance_identifier(0)
    with pytest.raises(ValueError, match="too long"):
        instance_identifier(1, "x" * 70)
    with pytest.raises(ValueError, match="role"):
        endpoint_identifier("db", "both")  # type: ignore[arg-type]


def test_split_shared_schema_refuses_a_plain_schema() -> None:
    assert layout.shared_schema_prefix("crm") == "crm/"
    with pytest.raises(ValueError, match="not a schema renamed"):
        layout.split_shared_schema("dbo")
    with pytest.raises(ValueError, match="schema"):
        layout.split_shared_schema("crm/")

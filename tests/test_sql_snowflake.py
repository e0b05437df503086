"""Golden Snowflake SQL (every statement parses with sqlglot's Snowflake dialect) and the setup's policies."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pytest
import sqlglot
from sqlglot import exp

from sqlfleet.snowflake_setup import (
    IntegrationIdentity,
    SetupPlan,
    describe_integration_sql,
    integration_identity,
    permissions_policy,
    setup_statements,
    trust_policy,
)
from sqlfleet.sql import snowflake as sql

GOLDEN = Path(__file__).parent / "golden" / "snowflake"
DB = 'RAW "prod" ü'
SCHEMA = "sales-eu"
TABLE = 'O\'Brien "Ünïcode" table\\x'
STAGE = ("RAW", "_sqlfleet", "lake")
PLAN = SetupPlan(
    integration="sqlfleet_lake",
    aws_role_arn="arn:aws:iam::123456789012:role/snowflake-lake-reader",
    external_id="sqlfleet-7f3c",
    stage_url="s3://dms-lake/prod",
    database="RAW",
    schemas=("sales_eu", "crm-apac"),
)
COLUMNS = [("_dms_ts", "VARCHAR"), ("id", "NUMBER(38,0)"), ('say "hi" €', "NUMBER(10,2)")]

GOLDEN_CASES: dict[str, Callable[[], str]] = {
    "setup": lambda: ";\n".join([*setup_statements(PLAN), describe_integration_sql(PLAN.integration)]),
    "create_table": lambda: sql.create_table_sql(DB, SCHEMA, TABLE, COLUMNS),
    "add_column": lambda: sql.add_column_sql(DB, SCHEMA, TABLE, "new 'col'", "TIMESTAMP_NTZ(6)"),
    "table_exists": lambda: sql.table_exists_sql(DB, SCHEMA, TABLE),
    "table_columns": lambda: sql.table_columns_sql(DB, SCHEMA, TABLE),
    "count_rows": lambda: sql.count_rows_sql(DB, SCHEMA, TABLE),
    "replace_scratch_table": lambda: sql.replace_scratch_table_sql(DB, "load_0123456789abcdef", COLUMNS),
    "drop_scratch_table": lambda: sql.drop_scratch_table_sql(DB, "load_0123456789abcdef"),
    "copy_into": lambda: sql.copy_into_sql(
        DB,
        "_sqlfleet",
        "load_0123456789abcdef",
        stage=STAGE,
        folder='sales-eu/dbo/O\'Brien "Ü" t/',
        files=["LOAD00000001.parquet", "part 2/LOAD0000000A.parquet"],
    ),
    "tag_copy_batch": lambda: sql.tag_copy_batch_sql(DB, "cdc_0123456789abcdef", 3),
    "delete_rows": lambda: sql.delete_rows_sql(DB, SCHEMA, TABLE),
    "insert_from_scratch": lambda: sql.insert_from_scratch_sql(
        DB, SCHEMA, TABLE, "load_0123456789abcdef", [c for c, _ in COLUMNS]
    ),
    "merge_changes": lambda: sql.merge_changes_sql(
        DB,
        SCHEMA,
        TABLE,
        "cdc_0123456789abcdef",
        key_columns=["id", 'say "hi" €'],
        columns=["_dms_ts", "id", 'say "hi" €', "name"],
        op_column="Op",
        order_by=["_dms_change_seq", "_dms_ts", sql.BATCH_ORDINAL_COLUMN],
    ),
    "merge_changes_keys_only": lambda: sql.merge_changes_sql(
        DB,
        SCHEMA,
        TABLE,
        "cdc_0123456789abcdef",
        key_columns=["id"],
        columns=["_dms_ts", "id"],
        op_column="Op",
        order_by=["_dms_change_seq"],
    ),
    "create_bookkeeping": lambda: ";\n".join(sql.create_bookkeeping_sql(DB)),
    "latest_load_manifest": lambda: sql.latest_load_manifest_sql(DB, "sales-eu", TABLE),
    "applied_change_files": lambda: sql.applied_change_files_sql(DB, "sales-eu", TABLE),
    "delete_manifest": lambda: sql.delete_manifest_sql(DB, "sales-eu", TABLE, "load"),
    "insert_manifest": lambda: sql.insert_manifest_sql(DB),
    "manifest_rows": lambda: sql.manifest_rows_sql(DB, "sales-eu"),
    "insert_ledger": lambda: sql.insert_ledger_sql(DB),
    "ledger_rows": lambda: sql.ledger_rows_sql(DB),
    "select_rows": lambda: sql.select_rows_sql(DB, SCHEMA, TABLE, ["id", 'say "hi" €']),
}

#: sqlglot 30.22 has no grammar for these and falls back to a generic ``Command`` (still parsed).
COMMAND_STATEMENTS = ("ALTER STORAGE INTEGRATION",)


def check_golden(name: str, text: str) -> None:
    """Compare ``text`` with ``golden/snowflake/<name>.sql``; ``UPDATE_GOLDEN=1`` rewrites it."""
    path = GOLDEN / f"{name}.sql"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n", encoding="utf-8")
    assert path.read_text(encoding="utf-8") == text + "\n", f"golden {path.name} differs"


@pytest.mark.parametrize("name", sorted(GOLDEN_CASES))
def test_sql_golden_and_parses_as_snowflake(name: str) -> None:
    text = GOLDEN_CASES[name]()
    check_golden(name, text)
    for statement in text.split(";\n"):
        parsed = sqlglot.parse_one(statement, read="snowflake")
        if not statement.startswith(COMMAND_STATEMENTS):
            assert not isinstance(parsed, exp.Command), f"{name}: parsed only as a generic command: {statement}"


def test_merge_dedupes_and_deletes_on_d() -> None:
    merge = sqlglot.parse_one(GOLDEN_CASES["merge_changes"](), read="snowflake")
    assert isinstance(merge, exp.Merge)
    qualify = merge.find(exp.Qualify)
    assert qualify is not None and "ROW_NUMBER()" in qualify.sql(dialect="snowflake")
    text = merge.sql(dialect="snowflake")
    assert "WHEN MATCHED AND s.\"Op\" = 'D' THEN DELETE" in text
    assert 'ORDER BY "_dms_change_seq" DESC, "_dms_ts" DESC, "_sqlfleet_batch" DESC' in text
    # keys are never updated; a keys-only table updates only the timestamp
    assert 'UPDATE SET "_dms_ts" = s."_dms_ts", "name" = s."name" ' in text
    assert 'UPDATE SET "_dms_ts" = s."_dms_ts" ' in GOLDEN_CASES["merge_changes_keys_only"]()


def test_copy_options_stay_in_the_subset_fakesnow_and_snowflake_share() -> None:
    text = GOLDEN_CASES["copy_into"]()
    for option in (
        "FILE_FORMAT = (TYPE = PARQUET BINARY_AS_TEXT = FALSE)",
        "MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE",
        "ON_ERROR = ABORT_STATEMENT",
        "FORCE = TRUE",
    ):
        assert option in text
    assert "PATTERN" not in text and "PURGE" not in text and "FORCE = FALSE" not in text


def test_copy_batches_hold_at_most_1000_files() -> None:
    names = [f"LOAD{i:08X}.parquet" for i in range(1, 2502)]
    batches = sql.copy_batches(names)
    assert [len(b) for b in batches] == [1000, 1000, 501]
    assert [n for b in batches for n in b] == names
    with pytest.raises(ValueError, match="at most 1000"):
        sql.copy_into_sql("D", "S", "T", stage=STAGE, folder="d/s/t/", files=names[:1001])
    with pytest.raises(ValueError):
        sql.copy_into_sql("D", "S", "T", stage=STAGE, folder="d/s/t/", files=[])


def test_string_literal_escapes_quotes_and_backslashes() -> None:
    value = "it's a\\b"
    assert sql.string_literal(value) == "'it''s a\\\\b'"
    literal = sqlglot.parse_one(f"SELECT {sql.string_literal(value)}", read="snowflake").find(exp.Literal)
    assert literal is not None and literal.this == value
    with pytest.raises(ValueError):
        sql.string_literal("nul\x00")


@pytest.mark.parametrize(
    ("arrow_type", "expected"),
    [
        (pa.int64(), "NUMBER(38,0)"),
        (pa.int32(), "NUMBER(38,0)"),
        (pa.uint8(), "NUMBER(38,0)"),
        (pa.decimal128(19, 4), "NUMBER(19,4)"),
        (pa.float64(), "FLOAT"),
        (pa.float32(), "FLOAT"),
        (pa.bool_(), "BOOLEAN"),
        (pa.string(), "VARCHAR"),
        (pa.binary(), "BINARY"),
        (pa.timestamp("us"), "TIMESTAMP_NTZ(6)"),
        (pa.timestamp("us", tz="UTC"), "TIMESTAMP_TZ(6)"),
        (pa.date32(), "DATE"),
        (pa.time64("us"), "TIME(6)"),
    ],
)
def test_snowflake_type_of_every_dms_arrow_type(arrow_type: pa.DataType, expected: str) -> None:
    assert sql.snowflake_type(arrow_type) == expected
    assert sql.canonical_type(expected) == sql.canonical_type(*_information_schema(expected))


def _information_schema(declared: str) -> tuple[str, int | None, int | None]:
    """What ``information_schema.columns`` reports for a declared type (data_type, precision, scale)."""
    if declared.startswith("NUMBER("):
        p, s = declared[7:-1].split(",")
        return "NUMBER", int(p), int(s)
    return (
        {
            "VARCHAR": "TEXT",
            "TIMESTAMP_NTZ(6)": "TIMESTAMP_NTZ",
            "TIMESTAMP_TZ(6)": "TIMESTAMP_TZ",
            "TIME(6)": "TIME",
        }.get(declared, declared),
        None,
        None,
    )


def test_unsupported_types_are_refused() -> None:
    with pytest.raises(ValueError, match="precision at most 38"):
        sql.snowflake_type(pa.decimal256(50, 2))
    with pytest.raises(ValueError, match="no Snowflake column type"):
        sql.snowflake_type(pa.list_(pa.int64()))
    assert sql.canonical_type("NUMBER(10,2)") != sql.canonical_type("NUMBER", 12, 2)
    assert sql.canonical_type("TEXT") == sql.canonical_type("VARCHAR(16777216)") == "VARCHAR"


# -- setup: DESC INTEGRATION and the IAM policies -----------------------------------------------------

DESC_ROWS = [
    ("ENABLED", "Boolean", "true", "false"),
    ("STORAGE_PROVIDER", "String", "S3", ""),
    ("STORAGE_ALLOWED_LOCATIONS", "List", "s3://dms-lake/prod/", "[]"),
    ("STORAGE_AWS_IAM_USER_ARN", "String", "arn:aws:iam::999999999999:user/abc1-s-v2st1234", ""),
    ("STORAGE_AWS_ROLE_ARN", "String", "arn:aws:iam::123456789012:role/snowflake-lake-reader", ""),
    ("STORAGE_AWS_EXTERNAL_ID", "String", "sqlfleet-7f3c", ""),
    ("COMMENT", "String", "", ""),
]


def test_integration_identity_from_desc_integration() -> None:
    identity = integration_identity(DESC_ROWS)
    assert identity == IntegrationIdentity(
        iam_user_arn="arn:aws:iam::999999999999:user/abc1-s-v2st1234", external_id="sqlfleet-7f3c"
    )
    with pytest.raises(ValueError, match="STORAGE_AWS_IAM_USER_ARN"):
        integration_identity([r for r in DESC_ROWS if r[0] != "STORAGE_AWS_IAM_USER_ARN"])


def test_trust_policy_names_snowflake_user_and_external_id() -> None:
    policy = trust_policy(integration_identity(DESC_ROWS))
    (statement,) = policy["Statement"]
    assert statement["Principal"] == {"AWS": "arn:aws:iam::999999999999:user/abc1-s-v2st1234"}
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Condition"] == {"StringEquals": {"sts:ExternalId": "sqlfleet-7f3c"}}
    json.dumps(policy)


def test_permissions_policy_is_read_only_and_scoped_to_the_lake_prefix() -> None:
    policy = permissions_policy("s3://dms-lake/prod")
    actions = {a for s in policy["Statement"] for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert actions == {"s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket", "s3:GetBucketLocation"}
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert by_sid["ReadLakeObjects"]["Resource"] == "arn:aws:s3:::dms-lake/prod/*"
    assert by_sid["ListLakePrefix"]["Condition"] == {"StringLike": {"s3:prefix": ["prod/*"]}}
    root = permissions_policy("s3://dms-lake")
    assert {s["Sid"]: s for s in root["Statement"]}["ReadLakeObjects"]["Resource"] == "arn:aws:s3:::dms-lake/*"
    assert "Condition" not in {s["Sid"]: s for s in root["Statement"]}["ListLakePrefix"]


def test_setup_never_replaces_the_integration() -> None:
    statements = setup_statements(PLAN)
    integration = [s for s in statements if "STORAGE INTEGRATION" in s]
    assert integration[0].startswith("CREATE STORAGE INTEGRATION IF NOT EXISTS")
    assert integration[1].startswith("ALTER STORAGE INTEGRATION")
    assert all("STORAGE_AWS_EXTERNAL_ID = 'sqlfleet-7f3c'" in s for s in integration)
    assert not any(s.startswith("CREATE OR REPLACE STORAGE") for s in statements)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("stage_url", "file:///lake", "s3://"),
        ("aws_role_arn", "snowflake-reader", "IAM role ARN"),
        ("external_id", " ", "external id"),
    ],
)
def test_setup_plan_rejects_bad_input(field: str, value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SetupPlan(**{**PLAN.model_dump(), field: value})

"""Pure DMS rules: identifiers, start types, status classification, type mapping."""

from __future__ import annotations

import re

import pyarrow as pa
import pytest

from sqlfleet.dms.names import dms_identifier, task_identifier
from sqlfleet.dms.status import choose_start_type, classify_task
from sqlfleet.engines.base import STOP_FULL_LOAD_FINISHED, TableStatistics, TaskStats, TaskStatus
from sqlfleet.sourcetypes import map_declared_type

DMS_ID = re.compile(r"^[a-z](?:[a-z0-9]|-(?!-))*(?<!-)$")


@pytest.mark.parametrize("name", ["sales_eu", "Sales-EU", "a", "crm__apac", "x" * 300, "日本"])
def test_task_identifiers_follow_dms_rules_and_stay_distinct(name: str) -> None:
    ident = task_identifier(name, "full-load")
    assert DMS_ID.match(ident) and len(ident) <= 255
    assert task_identifier(name, "cdc") != ident


def test_names_that_mangle_alike_get_distinct_identifiers() -> None:
    assert dms_identifier("sales_eu") != dms_identifier("sales-eu")
    assert dms_identifier("sales-eu") == "sales-eu"


def status(name: str, reason: str | None = None, errored: int = 0, message: str | None = None) -> TaskStatus:
    return TaskStatus(
        identifier="t",
        arn="a",
        status=name,
        stop_reason=reason,
        last_failure_message=message,  # type: ignore[arg-type]
        stats=TaskStats(tables_errored=errored),
    )


def test_start_type_follows_the_task_history() -> None:
    assert choose_start_type("ready", "full-load") == "start-replication"
    assert choose_start_type("stopped", "full-load") == "reload-target"
    assert choose_start_type("failed", "full-load") == "reload-target"
    assert choose_start_type("stopped", "cdc") == "resume-processing"
    with pytest.raises(ValueError, match="running"):
        choose_start_type("running", "full-load")


def test_classification_uses_status_stop_reason_and_table_errors() -> None:
    assert classify_task(status("running"), "full-load").outcome == "running"
    assert classify_task(status("starting"), "full-load").outcome == "running"
    assert classify_task(status("stopped", STOP_FULL_LOAD_FINISHED), "full-load").outcome == "succeeded"
    failed = classify_task(status("failed", "Stop Reason FATAL_ERROR", message="boom"), "full-load")
    assert (failed.outcome, failed.reason) == ("failed", "boom")
    early = classify_task(status("stopped", "Stop Reason NORMAL"), "full-load")
    assert early.outcome == "failed" and "NORMAL" in (early.reason or "")
    # SUSPEND_TABLE: a task can stop "finished" while a table errored.
    errored = classify_task(
        status("stopped", STOP_FULL_LOAD_FINISHED, errored=1),
        "full-load",
        [TableStatistics(schema_name="dbo", table_name="T", table_state="Table error")],
    )
    assert errored.outcome == "failed" and "dbo.T" in (errored.reason or "")


@pytest.mark.parametrize(
    ("declared", "expected"),
    [
        ("int", pa.int32()),
        ("INT", pa.int32()),
        ("bigint", pa.int64()),
        ("smallint", pa.int16()),
        ("tinyint", pa.uint8()),
        ("bit", pa.bool_()),
        ("decimal(19,4)", pa.decimal128(19, 4)),
        ("numeric(9, 2)", pa.decimal128(9, 2)),
        ("decimal", pa.decimal128(18, 0)),
        ("money", pa.decimal128(19, 4)),
        ("smallmoney", pa.decimal128(10, 4)),
        ("float", pa.float64()),
        ("float(24)", pa.float32()),
        ("real", pa.float32()),
        ("nvarchar(50)", pa.string()),
        ("nvarchar(max)", pa.string()),
        ("varchar(20)", pa.string()),
        ("nchar(3)", pa.string()),
        ("uniqueidentifier", pa.string()),
        ("datetime2", pa.timestamp("us")),
        ("datetime2(7)", pa.timestamp("us")),
        ("datetime", pa.timestamp("us")),
        ("smalldatetime", pa.timestamp("us")),
        ("date", pa.date32()),
        ("time", pa.time64("us")),
        ("varbinary(max)", pa.binary()),
        ("varbinary(16)", pa.binary()),
        ("image", pa.binary()),
        ("INTEGER", pa.int64()),
        ("TEXT", pa.string()),
        ("BLOB", pa.binary()),
    ],
)
def test_declared_sql_server_types_map_to_dms_arrow_types(declared: str, expected: pa.DataType) -> None:
    assert map_declared_type(declared)[1] == expected


def test_untyped_view_columns_take_their_storage_class() -> None:
    assert map_declared_type("", "integer")[1] == pa.int64()
    assert map_declared_type("", "real")[1] == pa.float64()
    assert map_declared_type("", "text")[1] == pa.string()
    assert map_declared_type("", None)[1] == pa.string()


def test_out_of_range_decimals_are_refused() -> None:
    with pytest.raises(ValueError, match="decimal"):
        map_declared_type("decimal(39,2)")

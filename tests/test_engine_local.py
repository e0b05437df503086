"""The embedded engine: DMS layout, types, lifecycle, statistics and table errors."""

from __future__ import annotations

import sqlite3
import time
from datetime import date, datetime
from datetime import time as dtime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sqlfleet import layout
from sqlfleet.dms.status import classify_task
from sqlfleet.engines.base import STOP_FULL_LOAD_FINISHED, SelectionRules, TaskRef, TaskSpec, TaskStatus
from sqlfleet.engines.local import LocalEngine
from sqlfleet.errors import ConfigError, ReplicationError
from sqlfleet.lake import Lake

TYPES_DDL = """
CREATE TABLE "Type Zoo" (
  id int NOT NULL PRIMARY KEY, big bigint, small smallint, tiny tinyint,
  amount decimal(19,4), huge decimal(38,0), fine decimal(38,10), price money, ratio numeric(9,2),
  name nvarchar(50), notes nvarchar(-1), code varchar(20), ccy nchar(3),
  created datetime2, legacy datetime, born date, at_time time,
  flag bit, guid uniqueidentifier, blob varbinary(-1), f float, r real
)"""

ROWS = [
    (
        1,
        9223372036854775807,
        -32768,
        255,
        0.1 + 0.2,
        9223372036854775807,
        "12.3456789012",
        922337203685477.5807,
        "1234567.89",
        "Zoë 東京 😀 שלום",
        "x" * 100_000,
        "plain",
        "EUR",
        "2024-02-29 23:59:59.1234567",
        "2020-01-01 10:00:00.123",
        "2024-02-29",
        "13:14:15.1234567",
        1,
        "6F9619FF-8B86-D011-B42D-00C04FC964FF",
        b"\x00\x01\xff",
        1.5,
        2.25,
    ),
    (
        2,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    ),
    (
        3,
        -1,
        0,
        0,
        5,
        -12345678901234567,
        "-0.0000000001",
        0.0001,
        0,
        "",
        "",
        'O\'Brien "the" \\ back',
        "USD",
        "0001-01-01 00:00:00.0000000",
        "9999-12-31 23:59:59.997",
        "9999-12-31",
        "00:00:00",
        0,
        "00000000-0000-0000-0000-000000000000",
        b"",
        0,
        -0.5,
    ),
]


def make_source(path: Path) -> Path:
    con = sqlite3.connect(path)
    con.execute(TYPES_DDL)
    con.executemany(f'INSERT INTO "Type Zoo" VALUES ({",".join("?" * 22)})', ROWS)
    con.execute("CREATE TABLE empty_table (id int PRIMARY KEY, v nvarchar(10))")
    con.execute('CREATE TABLE "Numbers" (n bigint NOT NULL, label nvarchar(20))')
    con.executemany('INSERT INTO "Numbers" VALUES (?, ?)', ((i, f"n{i}") for i in range(5000)))
    con.execute("CREATE TABLE broken (id int, amount decimal(5,2))")
    con.execute("INSERT INTO broken VALUES (1, 'not a number')")
    con.execute('CREATE VIEW "Number Stats" AS SELECT count(*) AS n, sum(n) AS total, max(label) AS top FROM "Numbers"')
    con.commit()
    con.close()
    return path


@pytest.fixture
def source(tmp_path: Path) -> Path:
    return make_source(tmp_path / "src.db")


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    return Lake.from_url(f"file://{tmp_path / 'lake'}")


def spec_for(source: Path, **overrides: object) -> TaskSpec:
    values: dict[str, object] = {"database": "zoo_db", "source_url": f"sqlite:///{source}"}
    values.update(overrides)
    return TaskSpec.model_validate(values)


def run_task(engine: LocalEngine, ref: TaskRef, start_type: str = "start-replication") -> TaskStatus:
    engine.start_task(ref, start_type)  # type: ignore[arg-type]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = engine.describe_tasks([ref])[ref.identifier]
        if status.status in {"stopped", "failed"}:
            return status
        time.sleep(0.02)
    raise AssertionError("task did not finish")


def test_full_load_writes_the_dms_layout_with_proper_arrow_types(source: Path, lake: Lake) -> None:
    engine = LocalEngine(lake, workers=2)
    ref = engine.ensure_task(spec_for(source, tables=SelectionRules(exclude=("broken",))))
    assert engine.describe_tasks([ref])[ref.identifier].status == "ready"
    status = run_task(engine, ref)
    assert status.status == "stopped" and status.stop_reason == STOP_FULL_LOAD_FINISHED
    assert status.stats.tables_loaded == 4 and status.stats.tables_errored == 0

    key = layout.load_file_key("zoo_db", "dbo", "Type Zoo", 1)
    assert [o.key for o in lake.list("zoo_db/dbo/Type Zoo/")] == [key]
    table = pq.read_table(lake.path(key))
    types = {f.name: f.type for f in table.schema}
    assert table.column_names[:2] == ["Op", "_dms_ts"]
    assert types["Op"] == pa.string() and types["_dms_ts"] == pa.string()
    assert types["id"] == pa.int32() and types["big"] == pa.int64() and types["small"] == pa.int16()
    assert types["tiny"] == pa.uint8()
    assert types["amount"] == pa.decimal128(19, 4) and types["huge"] == pa.decimal128(38, 0)
    assert types["fine"] == pa.decimal128(38, 10) and types["price"] == pa.decimal128(19, 4)
    assert types["ratio"] == pa.decimal128(9, 2)
    assert types["name"] == types["notes"] == types["code"] == types["ccy"] == types["guid"] == pa.string()
    assert types["created"] == types["legacy"] == pa.timestamp("us")
    assert types["born"] == pa.date32() and types["at_time"] == pa.time64("us")
    assert types["flag"] == pa.bool_() and types["blob"] == pa.binary()
    assert types["f"] == pa.float64() and types["r"] == pa.float32()

    rows = {r["id"]: r for r in table.to_pylist()}
    assert set(table.column("Op").to_pylist()) == {"I"}
    first, nulls, edge = rows[1], rows[2], rows[3]
    assert first["big"] == 9223372036854775807 and first["tiny"] == 255
    assert first["amount"] == Decimal("0.3000")
    assert first["huge"] == Decimal(9223372036854775807)
    assert first["fine"] == Decimal("12.3456789012")
    assert first["ratio"] == Decimal("1234567.89")
    assert first["name"] == "Zoë 東京 😀 שלום" and len(first["notes"]) == 100_000
    assert first["created"] == datetime(2024, 2, 29, 23, 59, 59, 123456)
    assert first["legacy"] == datetime(2020, 1, 1, 10, 0, 0, 123000)
    assert first["born"] == date(2024, 2, 29) and first["at_time"] == dtime(13, 14, 15, 123456)
    assert first["flag"] is True and first["blob"] == b"\x00\x01\xff"
    assert first["guid"] == "6F9619FF-8B86-D011-B42D-00C04FC964FF"
    assert all(v is None for k, v in nulls.items() if k not in {"id", "Op", "_dms_ts"})
    assert edge["huge"] == Decimal(-12345678901234567) and edge["fine"] == Decimal("-1E-10")
    assert edge["price"] == Decimal("0.0001") and edge["flag"] is False
    assert edge["created"] == datetime(1, 1, 1) and edge["legacy"] == datetime(9999, 12, 31, 23, 59, 59, 997000)
    assert edge["name"] == "" and edge["code"] == 'O\'Brien "the" \\ back' and edge["blob"] == b""

    stats = {s.table_name: s for s in engine.table_statistics(ref)}
    assert stats["Type Zoo"].full_load_rows == 3 and stats["Numbers"].full_load_rows == 5000
    assert stats["empty_table"].full_load_rows == 0 and stats["empty_table"].table_state == "Table completed"
    assert stats["Number Stats"].full_load_rows == 1
    assert lake.list("zoo_db/dbo/empty_table/") == []  # DMS writes no folder for an empty table
    view = pq.read_table(lake.path(layout.load_file_key("zoo_db", "dbo", "Number Stats", 1)))
    assert view.schema.field("n").type == pa.int64() and view.column("total").to_pylist() == [sum(range(5000))]


def test_a_new_file_starts_past_the_size_limit_and_reload_replaces_all_files(source: Path, lake: Lake) -> None:
    engine = LocalEngine(lake, workers=1, batch_rows=500)
    spec = spec_for(source, tables=SelectionRules(include=("Numbers",)), max_file_size_kb=4)
    ref = engine.ensure_task(spec)
    assert run_task(engine, ref).status == "stopped"
    keys = [o.key for o in lake.list("zoo_db/dbo/Numbers/")]
    assert len(keys) >= 3
    assert keys == [layout.load_file_key("zoo_db", "dbo", "Numbers", i) for i in range(1, len(keys) + 1)]
    assert sum(pq.read_metadata(lake.path(k)).num_rows for k in keys) == 5000

    with pytest.raises(ReplicationError, match="already ran"):
        engine.start_task(ref, "start-replication")
    con = sqlite3.connect(source)
    con.execute('DELETE FROM "Numbers" WHERE n >= 10')
    con.commit()
    con.close()
    assert run_task(engine, ref, "reload-target").status == "stopped"
    keys = [o.key for o in lake.list("zoo_db/dbo/Numbers/")]
    assert keys == [layout.load_file_key("zoo_db", "dbo", "Numbers", 1)]  # no stale LOAD files survive
    assert pq.read_metadata(lake.path(keys[0])).num_rows == 10


def test_a_table_error_suspends_that_table_and_the_task_still_finishes(source: Path, lake: Lake) -> None:
    engine = LocalEngine(lake, workers=2)
    ref = engine.ensure_task(spec_for(source))
    status = run_task(engine, ref)
    assert status.status == "stopped" and status.stats.tables_errored == 1
    stats = {s.table_name: s for s in engine.table_statistics(ref)}
    assert stats["broken"].table_state == "Table error" and "declared type" in (stats["broken"].error or "")
    assert stats["Numbers"].table_state == "Table completed"
    assert lake.list("zoo_db/dbo/broken/") == []
    outcome = classify_task(status, "full-load", engine.table_statistics(ref))
    assert outcome.outcome == "failed" and "dbo.broken" in (outcome.reason or "")


def test_selection_rules_and_views_flag(source: Path, lake: Lake) -> None:
    engine = LocalEngine(lake)
    spec = spec_for(source, tables=SelectionRules(include=("%",), exclude=("broken", "type%")), include_views=False)
    ref = engine.ensure_task(spec)
    assert run_task(engine, ref).status == "stopped"
    assert sorted(s.table_name for s in engine.table_statistics(ref)) == ["Numbers", "empty_table"]


def test_a_missing_source_fails_the_task_with_a_message(tmp_path: Path, lake: Lake) -> None:
    engine = LocalEngine(lake)
    ref = engine.ensure_task(spec_for(tmp_path / "nope.db"))
    status = run_task(engine, ref)
    assert status.status == "failed" and "does not exist" in (status.last_failure_message or "")


def test_selection_matching_nothing_fails_like_fail_on_no_tables_captured(source: Path, lake: Lake) -> None:
    engine = LocalEngine(lake)
    ref = engine.ensure_task(spec_for(source, tables=SelectionRules(include=("nothing%",))))
    status = run_task(engine, ref)
    assert status.status == "failed" and "match no source table" in (status.last_failure_message or "")


def test_ensure_task_is_idempotent_and_refuses_modes_it_cannot_run(source: Path, lake: Lake) -> None:
    engine = LocalEngine(lake)
    spec = spec_for(source)
    assert engine.ensure_task(spec) == engine.ensure_task(spec)
    assert engine.ensure_task(spec).identifier == "zoo-db-full-" + engine.ensure_task(spec).identifier.rsplit("-", 1)[1]
    with pytest.raises(ConfigError, match="cdc_stop_position"):
        engine.ensure_task(spec_for(source, migration_type="cdc"))  # only bounded windows

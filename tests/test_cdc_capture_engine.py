"""SQLite change capture (MS-CDC shape) and the embedded engine's cdc / full-load-and-cdc tasks."""

from __future__ import annotations

import sqlite3
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sqlfleet import layout
from sqlfleet.cdc.positions import format_lsn, parse_lsn, stop_position
from sqlfleet.cdc.sqlite_capture import enable_capture, read_capture_state
from sqlfleet.dms.status import classify_task
from sqlfleet.engines.base import (
    STOP_AFTER_FULL_LOAD,
    STOP_AT_COMMIT_TIME,
    STOP_AT_SERVER_TIME,
    SelectionRules,
    TaskSpec,
)
from sqlfleet.engines.local import LocalEngine
from sqlfleet.engines.sqlite_source import list_source_tables
from sqlfleet.lake import Lake
from sqlfleet.verify import CdcWindow, verify_changes
from tests.cdc_support import execute_all as execute
from tests.cdc_support import utc_now, wait
from tests.test_engine_local import ROWS, make_source

NOW = datetime(2024, 5, 1, 12, 0, 0)
ZOO_COLUMNS = (
    "big, small, tiny, amount, huge, fine, price, ratio, name, notes, code, ccy, created, legacy, born, "
    "at_time, flag, guid, blob, f, r"
)


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = make_source(tmp_path / "src.db")
    con = sqlite3.connect(path)
    con.execute(
        'CREATE TABLE "Price History" (product_id int NOT NULL, effective_date date NOT NULL, '
        "price money, PRIMARY KEY (product_id, effective_date))"
    )
    con.execute("INSERT INTO \"Price History\" VALUES (1, '2024-01-01', 10)")
    con.commit()
    con.close()
    enable_capture(path, "dbo", ["Type Zoo", "Numbers", "empty_table", "Price History", "broken"], NOW)
    return path


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    return Lake.from_url(f"file://{tmp_path / 'lake'}")


def change_rows(path: Path, table: str) -> list[tuple[object, ...]]:
    con = sqlite3.connect(path)
    try:
        return con.execute(f'SELECT "__$start_lsn", "__$operation", * FROM "cdc.dbo_{table}_CT"').fetchall()
    finally:
        con.close()


def cdc_spec(source: Path, start: str, **overrides: object) -> TaskSpec:
    values: dict[str, object] = {
        "database": "zoo_db",
        "source_url": f"sqlite:///{source}",
        "migration_type": "cdc",
        "cdc_start_position": start,
        "cdc_stop_position": stop_position(utc_now()),
        "tables": SelectionRules(exclude=("broken",)),
    }
    values.update(overrides)
    return TaskSpec.model_validate(values)


def run(engine: LocalEngine, spec: TaskSpec):  # type: ignore[no-untyped-def]
    ref = engine.ensure_task(spec)
    engine.start_task(
        ref,
        "start-replication" if engine.describe_tasks([ref])[ref.identifier].status == "ready" else "resume-processing",
    )
    return ref, wait(engine, ref)


# -- capture ----------------------------------------------------------------------------------


def test_enable_is_idempotent_and_capture_objects_stay_out_of_the_source(source: Path) -> None:
    again = enable_capture(source, "dbo", ["Type Zoo", "Numbers"], NOW)
    assert not again.database_enabled and again.enabled == () and again.already == ("Type Zoo", "Numbers")
    state = read_capture_state(source)
    assert state.enabled and state.max_lsn == 0
    assert state.instances["Price History"].key_columns == ("product_id", "effective_date")
    assert state.instances["Numbers"].key_columns == ()  # no primary key
    names = {t.name for t in list_source_tables(source, "dbo")}
    assert names == {"Type Zoo", "Numbers", "empty_table", "broken", "Price History", "Number Stats"}


def test_triggers_record_ms_cdc_operations(source: Path) -> None:
    execute(
        source,
        "INSERT INTO \"Price History\" VALUES (2, '2024-01-01', 20)",
        'UPDATE "Price History" SET price = 21 WHERE product_id = 2',
        "UPDATE \"Price History\" SET effective_date = '2024-02-01' WHERE product_id = 1",  # key column
        'DELETE FROM "Price History" WHERE product_id = 2',
        "UPDATE \"Numbers\" SET label = 'x' WHERE n = 1",  # no key: before/after images
    )
    ops = [
        (lsn, op, pid, day, price) for lsn, op, _l, _s, _o, _m, pid, day, price in change_rows(source, "Price History")
    ]
    assert ops == [
        (1, 2, 2, "2024-01-01", 20),
        (2, 3, 2, "2024-01-01", 20),
        (2, 4, 2, "2024-01-01", 21),
        (3, 1, 1, "2024-01-01", 10),  # a key update is a delete and an insert (MS-CDC split update)
        (4, 2, 1, "2024-02-01", 10),
        (5, 1, 2, "2024-01-01", 21),
    ]
    assert [(op, label) for _lsn, op, *_meta, _n, label in change_rows(source, "Numbers")] == [(3, "n1"), (4, "x")]
    assert read_capture_state(source).max_lsn == 6


# -- engine -----------------------------------------------------------------------------------


def test_cdc_window_round_trips_inserts_updates_deletes_of_every_type(source: Path, lake: Lake) -> None:
    execute(
        source,
        f'INSERT INTO "Type Zoo" SELECT 10, {ZOO_COLUMNS} FROM "Type Zoo" WHERE id = 1',
        "UPDATE \"Type Zoo\" SET amount = '12.3456', created = '2030-01-02 03:04:05.1234567', flag = 0 WHERE id = 10",
        'DELETE FROM "Type Zoo" WHERE id = 3',
        'UPDATE "Type Zoo" SET name = NULL WHERE id = 2',
    )
    engine = LocalEngine(lake)
    ref, status = run(engine, cdc_spec(source, format_lsn(0)))
    assert status.stop_reason == STOP_AT_SERVER_TIME and status.recovery_checkpoint == format_lsn(4)
    stats = {s.table_name: s for s in engine.table_statistics(ref)}
    zoo = stats["Type Zoo"]
    assert (zoo.inserts, zoo.updates, zoo.deletes, zoo.table_state) == (1, 2, 1, "Table completed")
    assert (stats["Numbers"].inserts, stats["Numbers"].updates, stats["Numbers"].deletes) == (0, 0, 0)

    [file] = [o for o in lake.list("zoo_db/dbo/Type Zoo/")]
    parsed = layout.parse_key(file.key)
    assert parsed is not None and parsed.kind == "cdc"
    table = pq.read_table(lake.path(file.key))
    assert table.column_names[0] == "Op" and table.column_names[1] == "_dms_ts"
    assert table.column_names[-1] == "_dms_change_seq" and table.schema.field("_dms_change_seq").type == pa.string()
    assert table.schema.field("amount").type == pa.decimal128(19, 4) and table.schema.field("flag").type == pa.bool_()
    rows = table.to_pylist()
    assert [(r["Op"], r["id"]) for r in rows] == [("I", 10), ("U", 10), ("D", 3), ("U", 2)]
    inserted, updated, deleted, nulled = rows
    assert inserted["huge"] == Decimal(9223372036854775807) and inserted["notes"] == "x" * 100_000
    assert updated["amount"] == Decimal("12.3456") and updated["flag"] is False  # the after image
    assert updated["created"] == datetime(2030, 1, 2, 3, 4, 5, 123456)
    assert deleted["born"] == date(9999, 12, 31) and deleted["code"] == ROWS[2][11]  # the before image
    assert nulled["name"] is None
    seqs = [r["_dms_change_seq"] for r in rows]
    assert all(len(s) == 35 and s.isdigit() for s in seqs) and seqs == sorted(seqs) and len(set(seqs)) == 4
    assert [int(s[16:]) for s in seqs] == [1, 2, 3, 4]  # the record id is the change's LSN
    stamp = datetime.strptime(rows[0]["_dms_ts"], "%Y-%m-%d %H:%M:%S.%f")
    assert abs(stamp - utc_now()) < timedelta(minutes=5)  # the commit time

    window = CdcWindow(start=status.stats.start_date, stop=status.stats.stop_date)  # type: ignore[arg-type]
    report = verify_changes(lake, "zoo_db", engine.table_statistics(ref), window)
    assert report.ok and report.mode == "cdc"
    assert {t.table: (t.expected_rows, t.footer_rows, len(t.files)) for t in report.tables}["Type Zoo"] == (4, 4, 1)


def test_an_empty_window_writes_nothing_and_keeps_the_position(source: Path, lake: Lake) -> None:
    execute(source, 'DELETE FROM "Numbers" WHERE n < 3')
    engine = LocalEngine(lake)
    _ref, status = run(engine, cdc_spec(source, format_lsn(3)))
    assert status.status == "stopped" and status.recovery_checkpoint == format_lsn(3)
    assert lake.list("zoo_db/") == []
    # commit_time stop positions stop with their own reason
    _ref, status = run(
        engine, cdc_spec(source, format_lsn(0), cdc_stop_position=f"commit_time:{utc_now():%Y-%m-%dT%H:%M:%S}")
    )
    assert status.stop_reason == STOP_AT_COMMIT_TIME


def test_a_window_spans_many_files_and_stops_at_its_stop_position(source: Path, lake: Lake) -> None:
    execute(source, "UPDATE \"Numbers\" SET label = label || '!'")
    engine = LocalEngine(lake, batch_rows=1_000)
    before = stop_position(datetime(2000, 1, 1))
    _ref, status = run(engine, cdc_spec(source, format_lsn(0), cdc_stop_position=before))
    assert status.recovery_checkpoint == format_lsn(0) and lake.list("zoo_db/") == []  # nothing before 2000
    ref, status = run(engine, cdc_spec(source, format_lsn(0), max_file_size_kb=8))
    files = lake.list("zoo_db/dbo/Numbers/")
    assert len(files) >= 3 and len({o.key for o in files}) == len(files)
    assert sum(pq.read_metadata(lake.path(o.key)).num_rows for o in files) == 5000
    report = verify_changes(
        lake,
        "zoo_db",
        engine.table_statistics(ref),
        CdcWindow(start=status.stats.start_date, stop=status.stats.stop_date),  # type: ignore[arg-type]
    )
    assert report.ok and {t.table: len(t.files) for t in report.tables}["Numbers"] == len(files)


def test_cdc_failures_say_what_to_do(source: Path, lake: Lake, tmp_path: Path) -> None:
    engine = LocalEngine(lake)
    ref, status = run(engine, cdc_spec(source, format_lsn(99)))
    assert status.status == "failed" and "capture was reset" in (status.last_failure_message or "")

    plain = make_source(tmp_path / "plain.db")
    ref, status = run(engine, cdc_spec(plain, format_lsn(0), database="plain"))
    assert status.status == "failed" and "sqlfleet cdc enable" in (status.last_failure_message or "")

    execute(source, "CREATE TABLE late (id int PRIMARY KEY)", "INSERT INTO \"Numbers\" VALUES (-1, 'x')")
    enable_capture(source, "dbo", ["late"], NOW)  # captured from LSN 1 on
    execute(source, "CREATE TABLE never (id int PRIMARY KEY)")
    ref, status = run(engine, cdc_spec(source, format_lsn(0), database="late_db"))
    assert status.status == "stopped"
    errors = {s.table_name: s.error for s in engine.table_statistics(ref) if s.table_state == "Table error"}
    assert "run a full load" in (errors["late"] or "") and "not captured" in (errors["never"] or "")
    assert set(errors) == {"late", "never"}


def test_full_load_and_cdc_records_the_position_before_loading(source: Path, lake: Lake) -> None:
    execute(source, "INSERT INTO \"Numbers\" VALUES (-1, 'before')")
    engine = LocalEngine(lake)
    spec = TaskSpec(
        database="zoo_db",
        source_url=f"sqlite:///{source}",
        migration_type="full-load-and-cdc",
        include_views=False,
        tables=SelectionRules(exclude=("broken",)),
    )
    ref, status = run(engine, spec)
    assert status.stop_reason == STOP_AFTER_FULL_LOAD and parse_lsn(status.recovery_checkpoint or "") == 1
    assert {s.table_name: s.full_load_rows for s in engine.table_statistics(ref)}["Numbers"] == 5001
    assert not lake.list("zoo_db/dbo/Number Stats/")  # views are full-load only
    assert classify_task(status, "full-load-and-cdc", engine.table_statistics(ref)).outcome == "succeeded"

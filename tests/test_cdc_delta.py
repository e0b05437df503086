"""Delta loads end to end without Prefect: capture → full load with position → changes → merge → checkpoint."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sqlfleet.cdc.enable import enable_for_entry
from sqlfleet.checkpoints import LakeCheckpointStore
from sqlfleet.demo.check import compare_database
from sqlfleet.demo.generate import generate_database
from sqlfleet.demo.mutate import MUTATED_TABLES, mutate_database
from sqlfleet.engines.local import LocalEngine
from sqlfleet.lake import Lake
from sqlfleet.warehouses.duckdb import DuckDBWarehouse
from tests.cdc_support import cycle, entry_for, utc_now
from tests.cdc_support import execute_all as execute


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    return Lake.from_url(f"file://{tmp_path / 'lake'}")


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[DuckDBWarehouse]:
    with DuckDBWarehouse(tmp_path / "wh.duckdb") as wh:
        yield wh


def rows(wh: DuckDBWarehouse, table: str, order: str) -> list[tuple[object, ...]]:
    return wh.query(f'SELECT * EXCLUDE (_dms_ts) FROM "shop"."{table}" ORDER BY {order}')


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    path = tmp_path / "shop.db"
    execute(
        path,
        "CREATE TABLE customer (id int NOT NULL PRIMARY KEY, name nvarchar(50), credit decimal(9,2))",
        "INSERT INTO customer VALUES (1, 'Zoë', 10.5), (2, 'Ana', 20), (3, 'Kenji', NULL)",
        'CREATE TABLE "Price History" (product_id int NOT NULL, effective_date date NOT NULL, price money, '
        "PRIMARY KEY (product_id, effective_date))",
        "INSERT INTO \"Price History\" VALUES (1, '2024-01-01', 10), (1, '2024-02-01', 11), (2, '2024-01-01', 5)",
        "CREATE TABLE untouched (id int PRIMARY KEY, v varchar(5))",
        "INSERT INTO untouched VALUES (1, 'a')",
        "CREATE VIEW v_customer AS SELECT id, name FROM customer",
    )
    return path


def test_changes_to_one_key_in_one_window_key_updates_and_composite_keys(
    shop: Path, lake: Lake, warehouse: DuckDBWarehouse
) -> None:
    entry = entry_for("shop", shop)
    store = LakeCheckpointStore(lake)
    enable_for_entry(entry, utc_now())
    engine = LocalEngine(lake)
    full = cycle(engine, lake, warehouse, store, entry, "full-load-and-cdc")
    assert {t.status for t in full.load.tables} == {"loaded"}
    execute(
        shop,
        "UPDATE customer SET credit = 1 WHERE id = 1",
        "UPDATE customer SET credit = 2 WHERE id = 1",
        "UPDATE customer SET name = 'Zoé', credit = 3 WHERE id = 1",  # several changes: the last wins
        "INSERT INTO customer VALUES (4, 'gone', 0)",
        "DELETE FROM customer WHERE id = 4",  # inserted and deleted in one window: never appears
        "UPDATE customer SET id = 30 WHERE id = 3",  # a key column changes: the old key must go
        "DELETE FROM customer WHERE id = 2",
        "INSERT INTO customer VALUES (2, 'Ana again', 22)",  # a key deleted and reused
        "UPDATE \"Price History\" SET price = 12 WHERE product_id = 1 AND effective_date = '2024-02-01'",
        "UPDATE \"Price History\" SET effective_date = '2024-03-01' WHERE product_id = 2",
        "INSERT INTO \"Price History\" VALUES (3, '2024-01-01', 7)",
        "DELETE FROM \"Price History\" WHERE product_id = 1 AND effective_date = '2024-01-01'",
    )
    delta = cycle(engine, lake, warehouse, store, entry, "cdc")
    assert delta.report.ok, delta.report.problems
    changes = {s.table_name: (s.inserts, s.updates, s.deletes) for s in delta.replication.tables}
    assert changes == {"customer": (3, 3, 3), "Price History": (2, 1, 2), "untouched": (0, 0, 0)}
    assert rows(warehouse, "customer", "id") == [
        (1, "Zoé", 3),
        (2, "Ana again", 22),
        (30, "Kenji", None),
    ]
    assert [(p, str(d), float(x)) for p, d, x in rows(warehouse, "Price History", "1, 2")] == [
        (1, "2024-02-01", 12.0),
        (2, "2024-03-01", 5.0),
        (3, "2024-01-01", 7.0),
    ]
    assert all(r.equal for r in compare_database(shop, warehouse, "shop", include_views=False))
    assert store.read("shop", "cdc") is not None and delta.replication.tables


def test_an_empty_window_and_a_rerun_of_the_same_window_change_nothing(
    shop: Path, lake: Lake, warehouse: DuckDBWarehouse
) -> None:
    entry = entry_for("shop", shop)
    store = LakeCheckpointStore(lake)
    enable_for_entry(entry, utc_now())
    engine = LocalEngine(lake)
    cycle(engine, lake, warehouse, store, entry, "full-load-and-cdc")
    execute(shop, "UPDATE customer SET credit = 99 WHERE id = 2")
    first = cycle(engine, lake, warehouse, store, entry, "cdc")
    position = store.read("shop", "cdc")
    before = rows(warehouse, "customer", "id")
    again = cycle(engine, lake, warehouse, store, entry, "cdc")  # nothing new since the checkpoint
    assert {t.status for t in again.load.tables} == {"unchanged"}
    assert sum(t.files for t in again.load.tables) == 0 and again.report.ok
    assert rows(warehouse, "customer", "id") == before
    assert store.read("shop", "cdc").position == position.position  # type: ignore[union-attr]
    # The first window's files are outside the second window: verified and loaded once only.
    first_keys = {f.key for t in first.report.tables for f in t.files}
    assert first_keys and not first_keys & {f.key for t in again.report.tables for f in t.files}


def test_a_crash_between_load_and_checkpoint_converges_on_rerun(
    shop: Path, lake: Lake, warehouse: DuckDBWarehouse
) -> None:
    entry = entry_for("shop", shop)
    store = LakeCheckpointStore(lake)
    enable_for_entry(entry, utc_now())
    engine = LocalEngine(lake)
    cycle(engine, lake, warehouse, store, entry, "full-load-and-cdc")
    start = store.read("shop", "full-load-and-cdc")
    execute(shop, "INSERT INTO customer VALUES (5, 'new', 1)", "UPDATE customer SET credit = 7 WHERE id = 1")
    cycle(engine, lake, warehouse, store, entry, "cdc", write_checkpoint=False)  # merged, then the crash
    assert store.read("shop", "cdc") is None and store.read("shop", "full-load-and-cdc") == start
    execute(shop, "DELETE FROM customer WHERE id = 5", "INSERT INTO customer VALUES (6, 'later', 2)")
    rerun = cycle(engine, lake, warehouse, store, entry, "cdc")  # replays the first window, plus the new changes
    assert {s.table_name: s.inserts for s in rerun.replication.tables}["customer"] == 2  # 5 and 6 again
    assert rows(warehouse, "customer", "id") == [(1, "Zoë", 7), (2, "Ana", 20), (3, "Kenji", None), (6, "later", 2)]
    assert warehouse.row_count("shop", "customer") == 4  # no duplicate from the replay
    assert all(r.equal for r in compare_database(shop, warehouse, "shop", include_views=False))


def test_demo_batch_delta_equals_the_source_and_touches_only_changed_tables(
    tmp_path: Path, lake: Lake, warehouse: DuckDBWarehouse
) -> None:
    path = generate_database(tmp_path / "sales.db", seed=3, scale=0.05).path
    entry = entry_for("sales", path)
    store = LakeCheckpointStore(lake)
    report = enable_for_entry(entry, utc_now())
    assert report.database_enabled and len(report.enabled) == 40
    assert not enable_for_entry(entry, utc_now()).changed  # idempotent
    engine = LocalEngine(lake)
    cycle(engine, lake, warehouse, store, entry, "full-load-and-cdc")
    batch = mutate_database(path, seed=3, fraction=0.05)
    assert {t.table for t in batch.tables if t.total} == set(MUTATED_TABLES)
    delta = cycle(engine, lake, warehouse, store, entry, "cdc")
    assert delta.report.ok, delta.report.problems
    with_files = {t.table for t in delta.report.tables if t.files}
    assert with_files == set(MUTATED_TABLES)
    assert {t.table for t in delta.load.tables if t.status == "loaded"} == set(MUTATED_TABLES)
    results = compare_database(path, warehouse, "sales", include_views=False)
    assert len(results) == 40 and [r.detail for r in results if not r.equal] == []

"""The S3 lake path against a moto server on 127.0.0.1: engine → verify → DuckDB, same code as folders."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from sqlfleet import layout
from sqlfleet.engines.base import SelectionRules, TaskSpec
from sqlfleet.engines.local import LocalEngine
from sqlfleet.lake import Lake
from sqlfleet.verify import verify_database
from sqlfleet.warehouses.duckdb import DuckDBWarehouse
from tests.test_engine_local import make_source

BUCKET = "sqlfleet-lake"


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_lake(moto_endpoint: str) -> Lake:
    s3 = boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if BUCKET not in existing:
        s3.create_bucket(Bucket=BUCKET)
    for obj in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        s3.delete_object(Bucket=BUCKET, Key=obj["Key"])
    return Lake.from_url(
        f"s3://{BUCKET}/lake", endpoint_url=moto_endpoint, region="us-east-1", access_key="test", secret_key="test"
    )


def test_engine_verify_and_load_through_an_s3_compatible_lake(
    s3_lake: Lake, tmp_path: Path, moto_endpoint: str
) -> None:
    source = make_source(tmp_path / "src.db")
    engine = LocalEngine(s3_lake, workers=2, batch_rows=1000)
    spec = TaskSpec(
        database="zoo", source_url=f"sqlite:///{source}", tables=SelectionRules(exclude=("broken",)), max_file_size_kb=8
    )
    ref = engine.ensure_task(spec)
    engine.start_task(ref, "start-replication")
    deadline = time.monotonic() + 60
    while engine.describe_tasks([ref])[ref.identifier].status not in {"stopped", "failed"}:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    stats = engine.table_statistics(ref)
    assert {s.table_state for s in stats} == {"Table completed"}

    keys = [o.key for o in s3_lake.list("zoo/")]
    assert layout.load_file_key("zoo", "dbo", "Type Zoo", 1) in keys
    numbers = [k for k in keys if k.startswith("zoo/dbo/Numbers/")]
    assert len(numbers) >= 2 and numbers[1] == layout.load_file_key("zoo", "dbo", "Numbers", 2)
    assert not any(k.startswith("zoo/dbo/empty_table/") for k in keys)

    # A stray object next to the data is reported, not loaded.
    s3 = boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    s3.put_object(Bucket=BUCKET, Key="lake/zoo/dbo/Old Table/LOAD00000001.parquet", Body=b"junk")
    report = verify_database(s3_lake, "zoo", stats)
    assert report.ok, report.problems
    assert [p.kind for p in report.problems] == ["stray_object"]

    with DuckDBWarehouse(tmp_path / "w.duckdb") as warehouse:
        for table in report.loadable_tables:
            loaded = warehouse.load_full("zoo", table, s3_lake, batch_id="b1")
            assert loaded.rows == table.expected_rows
        assert warehouse.row_count("zoo", "Numbers") == 5000
        assert warehouse.row_count("zoo", "Type Zoo") == 3
        assert warehouse.query('SELECT name FROM "zoo"."Type Zoo" WHERE id = 1') == [("Zoë 東京 😀 שלום",)]

    # A corrupt data file in S3 fails that table's verification.
    s3.put_object(Bucket=BUCKET, Key="lake/" + layout.load_file_key("zoo", "dbo", "Type Zoo", 1), Body=b"garbage")
    broken = verify_database(s3_lake, "zoo", stats)
    assert broken.failed_tables == ("dbo.Type Zoo",)
    assert any(p.kind == "corrupt_file" for p in broken.problems)


def test_a_failed_write_leaves_no_object_behind(s3_lake: Lake) -> None:
    with pytest.raises(RuntimeError), s3_lake.open_output("db/dbo/t/LOAD00000001.parquet") as out:
        out.write(b"partial")
        raise RuntimeError("boom")
    assert s3_lake.list("db/") == []

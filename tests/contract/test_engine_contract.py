"""The replication engine contract, run against both engines.

The embedded ``LocalEngine`` and the ``DmsEngine`` (on the fake DMS served next to moto, which
follows the DMS lifecycle of reference/dms.md §4) must behave the same for everything after
replication: statuses, stop reasons, table statistics, files in the DMS layout. Behaviour only
one engine has (API throttling, endpoints whose folder can drift) is skipped on the other, saying why.
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from sqlfleet import layout
from sqlfleet.cdc.positions import stop_position
from sqlfleet.cdc.sqlite_capture import enable_capture
from sqlfleet.dms.status import classify_task
from sqlfleet.engines.base import STOP_AT_SERVER_TIME, STOP_FULL_LOAD_FINISHED, TaskLookup, TaskRef
from sqlfleet.engines.local_cdc import capture_position
from sqlfleet.errors import OutputPrefixError, ReplicationError
from sqlfleet.testing.fake_aws import FakeAwsServer
from sqlfleet.testing.fake_dms import FakeDmsConfig
from sqlfleet.verify import verify_database
from sqlfleet.watch import TaskWatcher
from tests.contract.harness import INSTANCES, EngineHarness, EngineKind
from tests.test_engine_local import make_source
from tests.test_fleet_flow import make_small


@pytest.fixture(scope="module")
def aws() -> Iterator[FakeAwsServer]:
    with FakeAwsServer() as server:
        yield server


@pytest.fixture(params=["local", "dms"])
def harness(request: pytest.FixtureRequest, aws: FakeAwsServer) -> Iterator[EngineHarness]:
    kind: EngineKind = request.param
    aws.new_dms(FakeDmsConfig())
    yield EngineHarness.create(kind, aws, bucket=f"lake-{uuid.uuid4().hex[:12]}")
    aws.dms.wait_for_runs()
    assert aws.dms.internal_errors == []


def only_dms(harness: EngineHarness, why: str) -> None:
    if harness.kind != "dms":
        pytest.skip(why)


def test_a_first_run_loads_every_table_in_the_dms_layout(harness: EngineHarness, tmp_path: Path) -> None:
    spec = harness.spec("alpha", make_small(tmp_path / "alpha.db", 200))
    run = harness.run(spec)
    assert run.start_type == "start-replication"
    assert (run.status.status, run.status.stop_reason) == ("stopped", STOP_FULL_LOAD_FINISHED)
    assert classify_task(run.status, "full-load", list(run.tables.values())).outcome == "succeeded"
    assert {k: (t.table_state, t.full_load_rows) for k, t in run.tables.items()} == {
        "dbo.Customer": ("Table completed", 200),
        "dbo.order_line": ("Table completed", 600),
    }
    assert harness.keys("alpha") == [
        layout.load_file_key("alpha", "dbo", "Customer", 1),
        layout.load_file_key("alpha", "dbo", "order_line", 1),
    ]
    report = verify_database(harness.lake, "alpha", list(run.tables.values()))
    assert report.ok and report.problems == ()


def test_a_new_engine_finds_an_earlier_run_without_creating_anything(harness: EngineHarness, tmp_path: Path) -> None:
    """What verify-only and load-only runs do: find the task an earlier process ran, read its
    status and statistics, start nothing."""
    spec = harness.spec("alpha", make_small(tmp_path / "alpha.db", 50))
    run = harness.run(spec)
    later = harness.new_engine()  # a new process: knows only what the lake / DMS holds
    assert isinstance(later, TaskLookup)
    assert later.find_task("beta", "full-load") is None
    assert later.find_task("alpha", "cdc") is None
    creates_before = harness.calls["CreateReplicationTask"]
    found = later.find_task("alpha", "full-load")
    assert found == run.ref
    status = later.describe_tasks([found])[found.identifier]
    assert (status.status, status.stop_reason) == ("stopped", STOP_FULL_LOAD_FINISHED)
    tables = {f"{t.schema_name}.{t.table_name}": t.full_load_rows for t in later.table_statistics(found)}
    assert tables == {"dbo.Customer": 50, "dbo.order_line": 150}
    assert harness.calls["CreateReplicationTask"] == creates_before
    assert harness.calls["StartReplicationTask"] <= 1


def test_a_repeated_full_load_reloads_the_target_and_leaves_no_stale_files(
    harness: EngineHarness, tmp_path: Path
) -> None:
    source = make_source(tmp_path / "zoo.db")
    spec = harness.spec("zoo", source, max_file_size_kb=8, tables={"include": ["Numbers"]})
    first = harness.run(spec)
    numbers = [k for k in harness.keys("zoo") if k.startswith("zoo/dbo/Numbers/")]
    assert first.tables["dbo.Numbers"].full_load_rows == 5000 and len(numbers) >= 3

    with pytest.raises(ReplicationError):  # start-replication is for a task's first run only
        harness.the_engine.start_task(first.ref, "start-replication")
    con = sqlite3.connect(source)
    con.execute('DELETE FROM "Numbers" WHERE n >= 100')
    con.commit()
    con.close()
    second = harness.run(spec)
    assert second.start_type == "reload-target"
    assert (second.status.status, second.status.stop_reason) == ("stopped", STOP_FULL_LOAD_FINISHED)
    assert second.tables["dbo.Numbers"].full_load_rows == 100
    assert harness.keys("zoo") == [layout.load_file_key("zoo", "dbo", "Numbers", 1)]
    assert verify_database(harness.lake, "zoo", list(second.tables.values())).ok


def test_a_cdc_window_is_bounded_and_stops_at_its_stop_position(harness: EngineHarness, tmp_path: Path) -> None:
    source = make_small(tmp_path / "crm.db", 10)
    enable_capture(source, "dbo", ["Customer"], datetime.now(UTC).replace(tzinfo=None))
    start = capture_position(source)
    con = sqlite3.connect(source)
    con.executemany('INSERT INTO "Customer" VALUES (?, ?, ?)', [(100 + i, f"new {i}", 1.5) for i in range(3)])
    con.execute("UPDATE \"Customer\" SET name = 'renamed' WHERE id = 1")
    con.execute('DELETE FROM "Customer" WHERE id = 2')
    con.commit()
    con.close()
    base = harness.spec("crm", source, "cdc", tables={"include": ["Customer"]})
    spec = base.model_copy(
        update={
            "cdc_start_position": start,
            "cdc_stop_position": stop_position(datetime.now(UTC).replace(tzinfo=None)),
        }
    )
    run = harness.run(spec)
    assert (run.status.status, run.status.stop_reason) == ("stopped", STOP_AT_SERVER_TIME)
    assert run.status.recovery_checkpoint
    assert classify_task(run.status, "cdc", list(run.tables.values())).outcome == "succeeded"
    customer = run.tables["dbo.Customer"]
    assert (customer.inserts, customer.updates, customer.deletes) == (3, 1, 1)
    files = [layout.parse_key(k) for k in harness.keys("crm")]
    assert files and all(f is not None and f.kind == "cdc" and f.table == "Customer" for f in files)
    ops = [
        op
        for key in harness.keys("crm")
        for op in pq.read_table(harness.lake.path(key), filesystem=harness.lake.fs).column("Op").to_pylist()
    ]
    assert sorted(ops) == ["D", "I", "I", "I", "U"]


def test_an_errored_table_fails_alone_while_the_task_still_finishes(harness: EngineHarness, tmp_path: Path) -> None:
    run = harness.run(harness.spec("zoo", make_source(tmp_path / "zoo.db")))
    # TableErrorPolicy=SUSPEND_TABLE: the task "finishes", the table is in error.
    assert (run.status.status, run.status.stop_reason) == ("stopped", STOP_FULL_LOAD_FINISHED)
    assert run.status.stats.tables_errored == 1
    assert run.tables["dbo.broken"].table_state == "Table error"
    assert {k for k, t in run.tables.items() if t.table_state == "Table completed"} == {
        "dbo.Number Stats",
        "dbo.Numbers",
        "dbo.Type Zoo",
        "dbo.empty_table",
    }
    outcome = classify_task(run.status, "full-load", list(run.tables.values()))
    assert outcome.outcome == "failed" and "dbo.broken" in (outcome.reason or "")
    report = verify_database(harness.lake, "zoo", list(run.tables.values()))
    assert report.failed_tables == ("dbo.broken",)
    assert {t.name for t in report.loadable_tables} == {
        "dbo.Number Stats",
        "dbo.Numbers",
        "dbo.Type Zoo",
        "dbo.empty_table",
    }


def test_a_task_that_fails_reports_failed_with_the_reason(harness: EngineHarness, tmp_path: Path) -> None:
    # Mappings that match no table: DMS FailOnNoTablesCaptured (the embedded engine does the same).
    spec = harness.spec("gamma", make_small(tmp_path / "g.db", 5), tables={"include": ["no_such_table%"]})
    run = harness.run(spec)
    assert run.status.status == "failed"
    assert run.status.last_failure_message
    outcome = classify_task(run.status, "full-load", list(run.tables.values()))
    assert outcome.outcome == "failed" and outcome.reason == run.status.last_failure_message
    assert harness.keys("gamma") == []


def test_throttling_of_30_percent_of_calls_is_absorbed(harness: EngineHarness, tmp_path: Path) -> None:
    only_dms(harness, "the embedded engine makes no API calls, so there is nothing to throttle")
    spec = harness.spec("alpha", make_small(tmp_path / "alpha.db", 50))
    # Fewer lifecycle polls, fewer calls: botocore's adaptive mode slows the client down after
    # each throttle, so every call costs time here.
    harness.aws.dms.config.creating_polls = harness.aws.dms.config.connection_test_polls = 0
    harness.aws.dms.throttle(0.3, seed=6)
    run = harness.run(spec)
    assert (run.status.status, run.status.stop_reason) == ("stopped", STOP_FULL_LOAD_FINISHED)
    assert {t.full_load_rows for t in run.tables.values()} == {50, 150}
    assert verify_database(harness.lake, "alpha", list(run.tables.values())).ok
    throttled = sum(harness.aws.dms.throttled.values())
    served = sum(harness.aws.dms.calls.values())
    assert throttled >= 3 and 0.15 <= throttled / served <= 0.45


def test_250_tasks_on_3_instances_are_watched_with_one_paged_describe_per_instance(
    harness: EngineHarness, tmp_path: Path
) -> None:
    source = tmp_path / "tiny.db"
    con = sqlite3.connect(source)
    con.execute("CREATE TABLE t (id int NOT NULL PRIMARY KEY, v nvarchar(10))")
    con.executemany("INSERT INTO t VALUES (?, ?)", [(i, f"v{i}") for i in range(3)])
    con.commit()
    con.close()
    # Uneven on purpose: 120 tasks need two pages of 100 on the first instance.
    sizes = {INSTANCES[0]: 120, INSTANCES[1]: 80, INSTANCES[2]: 50}
    names = [f"db{i:03d}" for i in range(250)]
    harness.placement.update(zip(names, [n for n, size in sizes.items() for _ in range(size)], strict=True))
    specs = [harness.spec(name, source) for name in names]
    if harness.kind == "dms":
        # >50 databases per instance with per-database endpoints needs a raised endpoint quota.
        harness.aws.dms.config.quotas["EndpointsPerInstance"] = 300
        harness.aws.dms.config.run_seconds = 1.0  # the tasks stay running while watched
        # Created and started by an earlier process: this engine looks them up in one batched call.
        refs = harness.seed_started_tasks(specs)
    else:
        refs = [harness.ensure_and_start(spec)[0] for spec in specs]

    pages: list[int] = []  # per poll cycle: DescribeReplicationTasks filtered by instance
    counts = {"instance": 0, "lookup": 0}

    def count(params: dict[str, object], **_: object) -> None:
        if threading.current_thread().name == "sqlfleet-task-watcher":
            names = {f["Name"] for f in params.get("Filters", [])}  # type: ignore[attr-defined]
            counts["instance" if "replication-instance-arn" in names else "lookup"] += 1

    def cycle_done(_waiting: int) -> None:
        pages.append(counts["instance"] - sum(pages))

    if harness.dms_client is not None:
        event = "before-parameter-build.database-migration-service.DescribeReplicationTasks"
        harness.dms_client.meta.events.register(event, count)
    watcher = TaskWatcher(harness.the_engine, interval_seconds=0.05, on_poll=cycle_done)
    results: dict[str, str] = {}
    lock = threading.Lock()

    def wait(ref: TaskRef) -> None:
        status = watcher.wait_for_task(ref, deadline_seconds=60)
        with lock:
            results[status.identifier] = status.stop_reason or status.status

    with ThreadPoolExecutor(max_workers=250) as pool:
        list(pool.map(wait, refs))
    assert len(results) == 250 and set(results.values()) == {STOP_FULL_LOAD_FINISHED}
    if harness.kind == "dms":
        ceiling = sum(math.ceil(n / 100) for n in sizes.values())  # 2 + 1 + 1 pages
        assert len(pages) >= 3 and max(pages) == ceiling and all(n <= ceiling for n in pages), pages
        # Tasks this engine never ensured are looked up by ARN, 100 at a time, not one by one.
        assert counts["lookup"] <= 2 * math.ceil(250 / 100) + len(pages) // 4, counts
        assert sum(pages) + counts["lookup"] < 250 * len(pages) / 50  # one describe per task: 250 a cycle
    tables = harness.the_engine.table_statistics(refs[-1])
    assert verify_database(harness.lake, refs[-1].database, tables).ok


def test_drifted_mappings_modify_the_stopped_task(harness: EngineHarness, tmp_path: Path) -> None:
    source = make_small(tmp_path / "alpha.db", 20)
    first = harness.run(harness.spec("alpha", source))
    assert set(first.tables) == {"dbo.Customer", "dbo.order_line"}
    # The catalog now excludes order_line: the same task is modified, not recreated.
    second = harness.run(harness.spec("alpha", source, tables={"include": ["%"], "exclude": ["order_line"]}))
    assert second.ref.arn == first.ref.arn
    assert second.start_type == "reload-target"
    assert set(second.tables) == {"dbo.Customer"}
    if harness.kind == "dms":
        assert harness.calls["ModifyReplicationTask"] == 1
        task = harness.aws.dms.task_by_identifier(first.ref.identifier)
        rules = json.loads(task.mappings)["rules"]
        assert any(r["rule-action"] == "exclude" and r["object-locator"]["table-name"] == "order[_]line" for r in rules)
        assert task.status == "stopped"


def test_a_prefix_mismatch_stops_the_database_before_and_after_a_run(harness: EngineHarness, tmp_path: Path) -> None:
    only_dms(harness, "the embedded engine derives its output prefix from the spec; it has no endpoint to drift")
    source = make_small(tmp_path / "alpha.db", 20)
    spec = harness.spec("alpha", source)
    engine = harness.the_engine
    ref = engine.ensure_task(spec)
    endpoint = harness.dms_client.describe_endpoints(Filters=[{"Name": "endpoint-id", "Values": ["alpha-target"]}])
    arn = endpoint["Endpoints"][0]["EndpointArn"]
    # Something else points the endpoint at another database's folder (the old shared-endpoint Lambda).
    harness.dms_client.modify_endpoint(EndpointArn=arn, S3Settings={"BucketFolder": "lake/beta"})
    with pytest.raises(OutputPrefixError, match=r"BucketFolder is 'lake/beta', the plan says 'lake/alpha'"):
        engine.start_task(ref, "start-replication")
    assert engine.describe_tasks([ref])[ref.identifier].status == "ready"  # never started
    assert harness.lake.list("") == []

    # The next ensure repairs the endpoint (and waits for its connection test); the run succeeds.
    run = harness.run(spec)
    assert run.status.stop_reason == STOP_FULL_LOAD_FINISHED and harness.calls["ModifyEndpoint"] == 2
    # A folder changed after the run means the files cannot be trusted: nothing is loaded.
    harness.dms_client.modify_endpoint(EndpointArn=arn, S3Settings={"BucketFolder": "lake/beta"})
    with pytest.raises(OutputPrefixError, match="after the run"):
        engine.table_statistics(run.ref)

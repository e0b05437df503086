"""What only the DMS engine does: error translation, pacing, waits DMS imposes, CDC start semantics."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError

from sqlfleet.catalog import DatabaseEntry
from sqlfleet.cdc.sqlite_capture import enable_capture
from sqlfleet.engines.dms import DmsEngine
from sqlfleet.engines.dms_api import (
    DmsAlreadyExistsError,
    DmsInvalidStateError,
    DmsNotFoundError,
    DmsQuotaError,
    DmsRequestRejectedError,
    translate_error,
)
from sqlfleet.errors import ConfigError, ReplicationError, TransientError
from sqlfleet.pacing import TokenBucket
from sqlfleet.plan import task_spec_for
from sqlfleet.testing.fake_aws import FakeAwsServer
from sqlfleet.testing.fake_dms import FakeDmsConfig
from sqlfleet.watch import TaskWatcher
from tests.contract.harness import INSTANCES, LAKE_ROOT, ROLE, EngineHarness
from tests.test_fleet_flow import make_small


def client_error(code: str, status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "DescribeThings"
    )


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (client_error("ThrottlingException"), TransientError),
        (client_error("InternalFailure", 500), TransientError),
        (EndpointConnectionError(endpoint_url="http://x"), TransientError),
        (client_error("ResourceNotFoundFault"), DmsNotFoundError),
        (client_error("InvalidResourceStateFault"), DmsInvalidStateError),
        (client_error("ResourceAlreadyExistsFault"), DmsAlreadyExistsError),
        (client_error("ResourceQuotaExceededFault"), DmsQuotaError),
        (client_error("AccessDeniedFault"), DmsRequestRejectedError),
        (client_error("SomethingNew"), ReplicationError),
    ],
)
def test_botocore_errors_are_typed_by_what_the_caller_does_next(error: Exception, expected: type) -> None:
    translated = translate_error(error, "describing things")
    assert type(translated) is expected and "describing things" in str(translated)
    assert isinstance(translated, TransientError) == (expected is TransientError)
    assert isinstance(translated, ConfigError) == (expected is DmsRequestRejectedError)


def test_the_token_bucket_paces_calls_and_refuses_a_wait_past_its_deadline() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    bucket = TokenBucket(4, 2, clock=lambda: now[0], sleep=sleep)
    waits = [bucket.acquire() for _ in range(6)]
    assert waits[:2] == [0, 0] and waits[2:] == pytest.approx([0.25] * 4)
    assert now[0] == pytest.approx(1.0)  # 6 calls at 4/s with a burst of 2
    slow = TokenBucket(0.1, 1, clock=lambda: 0.0, sleep=sleep)
    assert slow.acquire() == 0  # the burst
    with pytest.raises(TransientError, match="deadline"):
        slow.acquire(deadline_seconds=5)  # the next token is 10 s away
    assert slow.acquire(deadline_seconds=11) == pytest.approx(10)  # the refused call took no token


@pytest.fixture(scope="module")
def aws() -> Iterator[FakeAwsServer]:
    with FakeAwsServer() as server:
        yield server


@pytest.fixture
def harness(aws: FakeAwsServer) -> Iterator[EngineHarness]:
    aws.new_dms(FakeDmsConfig())
    yield EngineHarness.create("dms", aws, bucket=f"lake-{uuid.uuid4().hex[:12]}")
    aws.dms.wait_for_runs()
    assert aws.dms.internal_errors == []


def engine_with(harness: EngineHarness, client: Any, **options: Any) -> DmsEngine:
    return DmsEngine(
        client,
        entries=harness.entries,
        instance_for=lambda db: harness.placement.get(db, INSTANCES[0]),
        lake_bucket=harness.bucket,
        lake_prefix=LAKE_ROOT,
        service_role_arn=ROLE,
        poll_interval_seconds=0.01,
        wait_deadline_seconds=10,
        **options,
    )


def test_throttling_past_botocore_retries_is_transient_and_the_watcher_rides_it_out(
    harness: EngineHarness, tmp_path: Path
) -> None:
    spec = harness.spec("alpha", make_small(tmp_path / "a.db", 5))
    ref, _ = harness.ensure_and_start(spec)
    one_try = harness.aws.client("dms", config=Config(retries={"mode": "standard", "total_max_attempts": 1}))
    engine = engine_with(harness, one_try)
    harness.aws.dms.throttle(0.99, operations=["DescribeReplicationTasks"])
    with pytest.raises(TransientError, match="ThrottlingException"):
        engine.describe_tasks([ref])
    harness.aws.dms.throttle(0.5, seed=1, operations=["DescribeReplicationTasks"])
    final = TaskWatcher(engine, interval_seconds=0.01).wait_for_task(ref, deadline_seconds=30)
    assert final.stop_reason == "Stop Reason FULL_LOAD_ONLY_FINISHED"
    assert harness.aws.dms.throttled["DescribeReplicationTasks"] >= 2


def test_start_waits_for_the_connection_test_modify_endpoint_starts(harness: EngineHarness, tmp_path: Path) -> None:
    harness.aws.dms.config.connection_test_polls = 3
    spec = harness.spec("alpha", make_small(tmp_path / "a.db", 5))
    ref = harness.the_engine.ensure_task(spec)
    target = harness.dms_client.describe_endpoints(Filters=[{"Name": "endpoint-id", "Values": ["alpha-target"]}])
    harness.dms_client.modify_endpoint(
        EndpointArn=target["Endpoints"][0]["EndpointArn"], S3Settings={"CdcMaxBatchInterval": 120}
    )
    raw = harness.aws.client("dms", config=Config(retries={"mode": "standard", "total_max_attempts": 1}))
    with pytest.raises(ClientError, match="cannot be started"):
        raw.start_replication_task(ReplicationTaskArn=ref.arn, StartReplicationTaskType="start-replication")
    harness.the_engine.start_task(ref, "start-replication")  # waits for 'successful' first
    run = harness.finish(ref, "start-replication", TaskWatcher(harness.the_engine, interval_seconds=0.02))
    assert run.status.stop_reason == "Stop Reason FULL_LOAD_ONLY_FINISHED"
    assert harness.calls["DescribeConnections"] >= 4


def test_cdc_runs_are_bounded_by_a_start_position_and_a_server_time_stop(
    harness: EngineHarness, tmp_path: Path
) -> None:
    source = make_small(tmp_path / "c.db", 5)
    enable_capture(source, "dbo", ["Customer"], datetime(2024, 1, 1))
    harness.entries.clear()
    spec = harness.spec("crm", source, "cdc", tables={"include": ["Customer"]})
    starts: list[dict[str, Any]] = []
    harness.dms_client.meta.events.register(
        "before-parameter-build.database-migration-service.StartReplicationTask",
        lambda params, **_: starts.append(dict(params)),
    )
    engine = engine_with(harness, harness.dms_client, clock=lambda: datetime(2024, 1, 2, 3, 4, 5, 600))
    watcher = TaskWatcher(engine, interval_seconds=0.02)
    ref = engine.ensure_task(spec)
    engine.start_task(ref, "start-replication")
    first = watcher.wait_for_task(ref, deadline_seconds=30)
    assert first.stop_reason == "Stop Reason STOPPED_AT_SERVER_TIME" and first.recovery_checkpoint
    engine.start_task(ref, "resume-processing")  # no saved checkpoint: the task's own
    watcher.wait_for_task(ref, deadline_seconds=30)
    saved = spec.model_copy(update={"cdc_start_position": "00000000:00000000:0001"})
    engine.start_task(engine.ensure_task(saved), "resume-processing")
    watcher.wait_for_task(ref, deadline_seconds=30)
    stop = "server_time:2024-01-02T03:04:06"  # the injected clock, rounded up to a whole second
    assert starts == [
        {"ReplicationTaskArn": ref.arn, "StartReplicationTaskType": "start-replication", "CdcStopPosition": stop},
        {
            "ReplicationTaskArn": ref.arn,
            "StartReplicationTaskType": "start-replication",
            "CdcStopPosition": stop,
            "CdcStartPosition": first.recovery_checkpoint,
        },
        {
            "ReplicationTaskArn": ref.arn,
            "StartReplicationTaskType": "start-replication",
            "CdcStopPosition": stop,
            "CdcStartPosition": "00000000:00000000:0001",
        },
    ]


def test_a_failed_connection_test_fails_the_database_with_the_dms_message(
    harness: EngineHarness, tmp_path: Path
) -> None:
    spec = harness.spec("alpha", make_small(tmp_path / "a.db", 5))
    harness.entries["ghost"] = harness.entries["alpha"].model_copy(
        update={"name": "ghost", "source": "mssql://sql.fleet.test:1433/ghost"}
    )
    with pytest.raises(ReplicationError, match=r"connection test of endpoint ghost-source .* failed: .*cannot connect"):
        harness.the_engine.ensure_task(spec.model_copy(update={"database": "ghost"}))


def test_a_running_task_with_drifted_mappings_is_left_alone(harness: EngineHarness, tmp_path: Path) -> None:
    harness.aws.dms.config.run_seconds = 3
    source = make_small(tmp_path / "a.db", 5)
    ref, _ = harness.ensure_and_start(harness.spec("alpha", source))
    with pytest.raises(ReplicationError, match="is running: its mappings or settings changed"):
        harness.the_engine.ensure_task(harness.spec("alpha", source, tables={"exclude": ["order_line"]}))
    assert harness.calls["ModifyReplicationTask"] == 0
    harness.dms_client.stop_replication_task(ReplicationTaskArn=ref.arn)


def test_tasks_gone_or_on_another_instance_are_reported_not_guessed(harness: EngineHarness, tmp_path: Path) -> None:
    source = make_small(tmp_path / "a.db", 5)
    ref = harness.the_engine.ensure_task(harness.spec("alpha", source))
    harness.placement["alpha"] = INSTANCES[1]
    with pytest.raises(ReplicationError, match=r"delete the task \(or move it\)"):
        harness.the_engine.ensure_task(harness.spec("alpha", source))
    harness.dms_client.delete_replication_task(ReplicationTaskArn=ref.arn)
    for engine in (harness.the_engine, engine_with(harness, harness.dms_client)):  # knew it / never saw it
        status = engine.describe_tasks([ref])[ref.identifier]
        assert status.status == "failed" and "gone from DMS" in (status.last_failure_message or "")


def test_a_sqlite_catalog_entry_is_a_config_error_for_the_dms_engine(harness: EngineHarness, tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    sqlite3.connect(path).close()
    entry = DatabaseEntry(name="lite", enabled=True, source=f"sqlite:///{path}")
    harness.entries["lite"] = entry
    spec = task_spec_for(entry, "full-load", max_file_size_kb=1_048_576, timestamp_column="_dms_ts")
    before = sum(harness.calls.values())
    with pytest.raises(ConfigError, match="replicates mssql:// sources"):
        harness.the_engine.ensure_task(spec)
    assert sum(harness.calls.values()) == before  # refused before any DMS call

"""The fake DMS follows the documented DMS API behaviour (reference/dms.md §4-5, §7), over the wire."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from sqlfleet.testing.fake_aws import FakeAwsServer
from sqlfleet.testing.fake_dms import FakeDms, FakeDmsConfig
from tests.test_fleet_flow import make_small

MAPPINGS = json.dumps(
    {
        "rules": [
            {
                "rule-type": "selection",
                "rule-id": "1",
                "rule-name": "all",
                "object-locator": {"schema-name": "dbo", "table-name": "%", "table-type": "table"},
                "rule-action": "include",
            }
        ]
    }
)
ROLE = "arn:aws:iam::123456789012:role/r"


@pytest.fixture(scope="module")
def aws() -> Iterator[FakeAwsServer]:
    with FakeAwsServer() as server:
        server.client("s3").create_bucket(Bucket="fake-lake")
        yield server


@pytest.fixture
def dms(aws: FakeAwsServer) -> Iterator[FakeDms]:
    fake = aws.new_dms(FakeDmsConfig())
    yield fake
    fake.wait_for_runs()
    assert fake.internal_errors == []


@pytest.fixture
def client(aws: FakeAwsServer, dms: FakeDms) -> Any:
    # One attempt: a fault must reach the test, not be retried away.
    return aws.client("dms", config=Config(retries={"mode": "standard", "total_max_attempts": 1}))


def code(info: pytest.ExceptionInfo[ClientError]) -> str:
    return str(info.value.response["Error"]["Code"])


def instance(dms: FakeDms, name: str = "ri-1") -> str:
    arn = dms.handle(
        "CreateReplicationInstance", {"ReplicationInstanceIdentifier": name, "ReplicationInstanceClass": "c"}
    )
    dms.handle("DescribeReplicationInstances", {})
    return str(arn["ReplicationInstance"]["ReplicationInstanceArn"])


def task(dms: FakeDms, name: str, instance_arn: str, source_db: str = "src") -> str:
    """A task reading ``source_db`` into ``s3://fake-lake/lake/<name>`` (created in-process: fast)."""
    source = dms.handle(
        "CreateEndpoint",
        {
            "EndpointIdentifier": f"{name}-source",
            "EndpointType": "source",
            "EngineName": "sqlserver",
            "MicrosoftSQLServerSettings": {"ServerName": "sql", "Port": 1433, "DatabaseName": source_db},
        },
    )["Endpoint"]["EndpointArn"]
    target = dms.handle(
        "CreateEndpoint",
        {
            "EndpointIdentifier": f"{name}-target",
            "EndpointType": "target",
            "EngineName": "s3",
            "S3Settings": {"BucketName": "fake-lake", "BucketFolder": f"lake/{name}", "ServiceAccessRoleArn": ROLE},
        },
    )["Endpoint"]["EndpointArn"]
    created = dms.handle(
        "CreateReplicationTask",
        {
            "ReplicationTaskIdentifier": name,
            "SourceEndpointArn": source,
            "TargetEndpointArn": target,
            "ReplicationInstanceArn": instance_arn,
            "MigrationType": "full-load",
            "TableMappings": MAPPINGS,
        },
    )
    return str(created["ReplicationTask"]["ReplicationTaskArn"])


def describe(client: Any, arn: str) -> dict[str, Any]:
    found = client.describe_replication_tasks(Filters=[{"Name": "replication-task-arn", "Values": [arn]}])
    return dict(found["ReplicationTasks"][0])


def wait_stopped(client: Any, arn: str) -> dict[str, Any]:
    for _ in range(2000):
        current = describe(client, arn)
        if current["Status"] in {"stopped", "failed"}:
            return current
    raise AssertionError("the task did not stop")


def test_a_task_is_creating_until_described_and_runs_to_full_load_only_finished(
    client: Any, dms: FakeDms, tmp_path: Path
) -> None:
    dms.register_source("src", make_small(tmp_path / "s.db", 30))
    arn = task(dms, "t1", instance(dms))
    with pytest.raises(ClientError) as info:
        client.start_replication_task(ReplicationTaskArn=arn, StartReplicationTaskType="start-replication")
    assert code(info) == "InvalidResourceStateFault"  # still creating
    assert describe(client, arn)["Status"] == "creating"
    assert describe(client, arn)["Status"] == "ready"
    started = client.start_replication_task(ReplicationTaskArn=arn, StartReplicationTaskType="start-replication")
    assert started["ReplicationTask"]["Status"] == "starting"
    done = wait_stopped(client, arn)
    assert done["StopReason"] == "Stop Reason FULL_LOAD_ONLY_FINISHED"
    assert (
        done["ReplicationTaskStats"]["TablesLoaded"] == 2
        and done["ReplicationTaskStats"]["FullLoadProgressPercent"] == 100
    )
    stats = client.describe_table_statistics(ReplicationTaskArn=arn)["TableStatistics"]
    assert {(s["TableName"], s["TableState"], s["FullLoadRows"]) for s in stats} == {
        ("Customer", "Table completed", 30),
        ("order_line", "Table completed", 90),
    }
    for start_type, fault in (
        ("start-replication", "InvalidResourceStateFault"),
        ("bogus", "InvalidParameterValueException"),
    ):
        with pytest.raises(ClientError) as info:
            client.start_replication_task(ReplicationTaskArn=arn, StartReplicationTaskType=start_type)
        assert code(info) == fault


def test_describe_pages_with_markers_within_the_documented_bounds(client: Any, dms: FakeDms) -> None:
    dms.config.quotas["EndpointsPerInstance"] = 300  # 150 tasks with their own endpoints
    arn = instance(dms)
    for i in range(150):
        task(dms, f"t{i:03d}", arn)
    first = client.describe_replication_tasks(
        Filters=[{"Name": "replication-instance-arn", "Values": [arn]}], MaxRecords=100, WithoutSettings=True
    )
    assert len(first["ReplicationTasks"]) == 100 and first["Marker"]
    assert "ReplicationTaskSettings" not in first["ReplicationTasks"][0]
    second = client.describe_replication_tasks(MaxRecords=100, Marker=first["Marker"])
    assert len(second["ReplicationTasks"]) == 50 and "Marker" not in second
    paged = client.get_paginator("describe_replication_tasks").paginate(PaginationConfig={"PageSize": 20})
    assert sum(len(p["ReplicationTasks"]) for p in paged) == 150
    for params, fault in (
        ({"MaxRecords": 10}, "InvalidParameterValueException"),
        ({"MaxRecords": 101}, "InvalidParameterValueException"),
        ({"Filters": [{"Name": "status", "Values": ["running"]}]}, "InvalidParameterValueException"),
        ({"Filters": [{"Name": "replication-task-id", "Values": ["nope"]}]}, "ResourceNotFoundFault"),
    ):
        with pytest.raises(ClientError) as info:
            client.describe_replication_tasks(**params)
        assert code(info) == fault, params


def test_unknown_arns_taken_identifiers_and_busy_resources_are_refused(
    client: Any, dms: FakeDms, tmp_path: Path
) -> None:
    dms.config.run_seconds = 5
    dms.register_source("src", make_small(tmp_path / "s.db", 3))
    ri = instance(dms)
    arn = task(dms, "t1", ri)
    describe(client, arn)
    with pytest.raises(ClientError) as info:
        client.describe_table_statistics(ReplicationTaskArn=arn.replace("task:", "task:X"))
    assert code(info) == "ResourceNotFoundFault"
    for create in (
        lambda: client.create_endpoint(EndpointIdentifier="t1-source", EndpointType="source", EngineName="sqlserver"),
        lambda: client.create_replication_task(
            ReplicationTaskIdentifier="t1",
            SourceEndpointArn=describe(client, arn)["SourceEndpointArn"],
            TargetEndpointArn=describe(client, arn)["TargetEndpointArn"],
            ReplicationInstanceArn=ri,
            MigrationType="full-load",
            TableMappings=MAPPINGS,
        ),
    ):
        with pytest.raises(ClientError) as info:
            create()
        assert code(info) == "ResourceAlreadyExistsFault"
    client.start_replication_task(ReplicationTaskArn=arn, StartReplicationTaskType="start-replication")
    calls = (
        lambda: client.start_replication_task(ReplicationTaskArn=arn, StartReplicationTaskType="reload-target"),
        lambda: client.modify_replication_task(ReplicationTaskArn=arn, TableMappings=MAPPINGS),
        lambda: client.delete_replication_task(ReplicationTaskArn=arn),
        lambda: client.modify_endpoint(EndpointArn=describe(client, arn)["TargetEndpointArn"], S3Settings={}),
    )
    for call in calls:
        with pytest.raises(ClientError) as info:
            call()
        assert code(info) == "InvalidResourceStateFault"
    assert client.stop_replication_task(ReplicationTaskArn=arn)["ReplicationTask"]["Status"] == "stopping"
    assert wait_stopped(client, arn)["StopReason"] == "Stop Reason NORMAL"


def test_modify_endpoint_merges_or_replaces_and_starts_a_connection_test(client: Any, dms: FakeDms) -> None:
    dms.config.connection_test_polls = 2
    ri = instance(dms)
    arn = task(dms, "t1", ri)
    target = describe(client, arn)["TargetEndpointArn"]
    client.test_connection(ReplicationInstanceArn=ri, EndpointArn=target)
    statuses = [
        client.describe_connections(Filters=[{"Name": "endpoint-arn", "Values": [target]}])["Connections"][0]["Status"]
        for _ in range(3)
    ]
    assert statuses == ["testing", "testing", "successful"]
    client.modify_endpoint(EndpointArn=target, S3Settings={"CdcMaxBatchInterval": 120})
    s3 = client.describe_endpoints(Filters=[{"Name": "endpoint-arn", "Values": [target]}])["Endpoints"][0]["S3Settings"]
    assert s3["BucketFolder"] == "lake/t1" and s3["CdcMaxBatchInterval"] == 120  # merged
    connection = client.describe_connections(Filters=[{"Name": "endpoint-arn", "Values": [target]}])["Connections"][0]
    assert connection["Status"] == "testing"  # the implicit test ModifyEndpoint starts
    with pytest.raises(ClientError) as info:
        client.start_replication_task(ReplicationTaskArn=arn, StartReplicationTaskType="start-replication")
    assert code(info) == "InvalidResourceStateFault" and "cannot be started" in str(info.value)
    client.modify_endpoint(
        EndpointArn=target,
        ExactSettings=True,
        S3Settings={"BucketName": "fake-lake", "BucketFolder": "lake/x", "ServiceAccessRoleArn": ROLE},
    )
    s3 = client.describe_endpoints(Filters=[{"Name": "endpoint-arn", "Values": [target]}])["Endpoints"][0]["S3Settings"]
    assert s3["BucketFolder"] == "lake/x" and "CdcMaxBatchInterval" not in s3  # replaced


def test_quotas_are_reported_and_enforced(client: Any, dms: FakeDms) -> None:
    dms.config.quotas["TasksPerInstance"] = 2
    ri = instance(dms)
    task(dms, "t1", ri)
    task(dms, "t2", ri)
    with pytest.raises(Exception, match="ResourceQuotaExceededFault"):
        task(dms, "t3", ri)
    quotas = {
        q["AccountQuotaName"]: (q["Used"], q["Max"]) for q in client.describe_account_attributes()["AccountQuotas"]
    }
    assert quotas["ReplicationTasks"] == (2, 600)
    assert quotas["Endpoints"] == (6, 1000)  # t3's endpoints were created before its task was refused
    assert quotas["EndpointsPerInstance"] == (4, 100)


def test_throttling_answers_the_configured_fraction_of_calls(client: Any, dms: FakeDms) -> None:
    dms.throttle(0.3, seed=5)
    outcomes = []
    for _ in range(200):
        try:
            client.describe_account_attributes()
            outcomes.append("ok")
        except ClientError as exc:
            outcomes.append(exc.response["Error"]["Code"])
    assert set(outcomes) == {"ok", "ThrottlingException"}
    assert 40 <= outcomes.count("ThrottlingException") <= 80
    assert dms.throttled["DescribeAccountAttributes"] == outcomes.count("ThrottlingException")

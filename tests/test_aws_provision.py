"""Provisioning on moto: `sqlfleet aws plan|apply` creates what a fleet needs, idempotently."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from pydantic import SecretStr
from typer.testing import CliRunner

from sqlfleet.aws.clients import AwsClients, make_clients, translate_aws_error
from sqlfleet.aws.desired import lake_access_policy
from sqlfleet.aws.diff import CurrentState, EndpointState, InstanceState, RoleState, diff_fleet, render_plan
from sqlfleet.aws.provision import apply_plan, plan_provisioning
from sqlfleet.catalog import DatabaseEntry, parse_catalog
from sqlfleet.cli import app
from sqlfleet.errors import ConfigError, TerminalError, TransientError
from sqlfleet.settings import Settings

REGION = "eu-west-1"
BUCKET = "acme-lake"
SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:{name}-AbCdEf"


def catalog_text(names: list[str], *, password_secret: str | None = None, extra: str = "") -> str:
    lines = ["databases:"]
    for name in names:
        secret = password_secret or SECRET.format(name=name)
        lines.append(
            f"  - {{name: {name}, enabled: true, source: 'mssql://sql1.example.com:1433/{name.upper()}', "
            f"credentials: {{username: dms_user, password_secret: '{secret}'}}}}"
        )
    return "\n".join(lines) + "\n" + extra


def entries_of(text: str) -> tuple[DatabaseEntry, ...]:
    return parse_catalog(text, "test", Path("."), check_sources=False).databases


def _account() -> list[str]:
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    return [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{REGION}{az}")["Subnet"]["SubnetId"]
        for i, az in enumerate("ab", start=1)
    ]


@pytest.fixture
def aws() -> Iterator[list[str]]:
    """A moto account with a VPC and two subnets; yields the subnet ids."""
    with mock_aws():
        yield _account()


@pytest.fixture
def aws_policies() -> Iterator[list[str]]:
    """``aws`` plus AWS's managed policies, which attaching the DMS account roles needs (~1 s)."""
    with mock_aws(config={"iam": {"load_aws_managed_policies": True}}):
        yield _account()


def settings_for(subnets: list[str], **extra: Any) -> Settings:
    return Settings(
        lake_url=f"s3://{BUCKET}/raw/sqlfleet",
        aws_region=REGION,
        dms_subnet_ids=tuple(subnets),
        dms_instance_class="dms.t3.medium",
        dms_allocated_storage_gb=50,
        **extra,
    )


def clients_for(settings: Settings) -> AwsClients:
    return make_clients(settings, total_max_attempts=1)


def actions(changes: list[Any]) -> dict[tuple[str, str], str]:
    return {(c.kind, c.identifier): c.action for c in changes}


def test_plan_on_an_empty_account_creates_everything(aws: list[str]) -> None:
    settings = settings_for(aws)
    plan = plan_provisioning(settings, entries_of(catalog_text(["sales", "crm"])), clients_for(settings))
    assert any("account quotas" in w for w in plan.warnings)  # moto has no DescribeAccountAttributes
    assert actions(plan.changes) == {
        ("bucket", BUCKET): "create",
        ("role", "sqlfleet-dms-s3"): "create",
        ("role", "dms-vpc-role"): "create",
        ("role", "dms-cloudwatch-logs-role"): "create",
        ("subnet-group", "sqlfleet"): "create",
        ("instance", "sqlfleet-01"): "create",
        ("endpoint", "sales-source"): "create",
        ("endpoint", "sales-target"): "create",
        ("endpoint", "crm-source"): "create",
        ("endpoint", "crm-target"): "create",
    }
    text = render_plan(plan.changes)
    assert "+ create" in text and text.endswith("Plan: 10 to create.")


def test_apply_creates_the_fleet_and_a_second_apply_changes_nothing(aws_policies: list[str]) -> None:
    settings = settings_for(aws_policies)
    entries = entries_of(catalog_text(["sales", "crm"]))
    clients = clients_for(settings)
    done = apply_plan(clients, plan_provisioning(settings, entries, clients))
    assert len(done) == 10

    s3 = boto3.client("s3", region_name=REGION)
    assert s3.get_bucket_location(Bucket=BUCKET)["LocationConstraint"] == REGION
    assert "Status" not in s3.get_bucket_versioning(Bucket=BUCKET)  # never versioned, as DMS needs
    assert all(s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"].values())

    iam = boto3.client("iam", region_name=REGION)
    role = iam.get_role(RoleName="sqlfleet-dms-s3")["Role"]
    services = role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"]
    assert set(services) == {"dms.amazonaws.com", f"dms.{REGION}.amazonaws.com"}
    policy = iam.get_role_policy(RoleName="sqlfleet-dms-s3", PolicyName="sqlfleet-lake-access")["PolicyDocument"]
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert by_sid["WriteLakeObjects"]["Resource"] == f"arn:aws:s3:::{BUCKET}/raw/sqlfleet/*"
    assert sorted(by_sid["WriteLakeObjects"]["Action"]) == ["s3:DeleteObject", "s3:PutObject", "s3:PutObjectTagging"]
    assert by_sid["ListLakePrefix"]["Condition"] == {"StringLike": {"s3:prefix": ["raw/sqlfleet", "raw/sqlfleet/*"]}}
    assert by_sid["ReadSourceSecrets"]["Resource"] == sorted(SECRET.format(name=n) for n in ("sales", "crm"))
    attached = iam.list_attached_role_policies(RoleName="dms-vpc-role")["AttachedPolicies"]
    assert [p["PolicyName"] for p in attached] == ["AmazonDMSVPCManagementRole"]

    dms = boto3.client("dms", region_name=REGION)
    instance = dms.describe_replication_instances()["ReplicationInstances"][0]
    assert (instance["ReplicationInstanceIdentifier"], instance["ReplicationInstanceClass"]) == (
        "sqlfleet-01",
        "dms.t3.medium",
    )
    assert instance["PubliclyAccessible"] is False
    endpoints = {e["EndpointIdentifier"]: e for e in dms.describe_endpoints()["Endpoints"]}
    assert sorted(endpoints) == ["crm-source", "crm-target", "sales-source", "sales-target"]
    target = endpoints["sales-target"]["S3Settings"]
    assert target["BucketFolder"] == "raw/sqlfleet/sales" and target["DataFormat"] == "parquet"
    assert target["ServiceAccessRoleArn"] == "arn:aws:iam::123456789012:role/sqlfleet-dms-s3"
    source = endpoints["sales-source"]["MicrosoftSQLServerSettings"]
    assert source["SecretsManagerSecretId"] == SECRET.format(name="sales") and "Password" not in source
    assert source["DatabaseName"] == "SALES"

    again = plan_provisioning(settings, entries, clients)
    assert {c.action for c in again.changes} <= {"keep", "drift"}
    # moto stores no subnets for a subnet group (it reports subnet-12345): the only drift seen
    assert [c.kind for c in again.changes if c.action == "drift"] == ["subnet-group"]
    assert apply_plan(clients, again) == []


def test_a_versioned_bucket_blocks_apply_until_versioning_is_suspended(aws_policies: list[str]) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    settings = settings_for(aws_policies)
    entries = entries_of(catalog_text(["sales"]))
    clients = clients_for(settings)
    plan = plan_provisioning(settings, entries, clients)
    assert actions(plan.changes)[("bucket", BUCKET)] == "blocked"
    with pytest.raises(ConfigError, match="versioning enabled"):
        apply_plan(clients, plan)
    with pytest.raises(ClientError):  # nothing was created
        boto3.client("iam", region_name=REGION).get_role(RoleName="sqlfleet-dms-s3")
    fixed = plan_provisioning(settings, entries, clients, suspend_versioning=True)
    assert actions(fixed.changes)[("bucket", BUCKET)] == "update"
    apply_plan(clients, fixed)
    assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Suspended"


def test_a_bucket_in_another_region_is_blocked(aws: list[str]) -> None:
    boto3.client("s3", region_name="us-west-2").create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-west-2"}
    )
    settings = settings_for(aws)
    plan = plan_provisioning(settings, entries_of(catalog_text(["sales"])), clients_for(settings))
    bucket = next(c for c in plan.changes if c.kind == "bucket")
    assert bucket.action == "blocked" and "us-west-2" in bucket.detail


def test_a_password_from_a_prefect_block_is_resolved_only_when_creating(aws_policies: list[str]) -> None:
    settings = settings_for(aws_policies)
    entries = entries_of(catalog_text(["sales"], password_secret="sales-sql-password"))
    clients = clients_for(settings)
    plan = plan_provisioning(settings, entries, clients)
    source = next(e for e in plan.desired.endpoints if e.identifier == "sales-source")
    assert source.password_block == "sales-sql-password" and "Password" not in source.settings
    with pytest.raises(ConfigError, match="sales-sql-password"):
        apply_plan(clients, plan)  # no resolver: refuses to create a source without its password
    asked: list[str] = []

    def resolver(block: str) -> SecretStr:
        asked.append(block)
        return SecretStr("Tr0ub4dor&3")

    apply_plan(clients, plan_provisioning(settings, entries, clients), password_resolver=resolver)
    assert asked == ["sales-sql-password"]
    created = boto3.client("dms", region_name=REGION).describe_endpoints(
        Filters=[{"Name": "endpoint-id", "Values": ["sales-source"]}]
    )["Endpoints"][0]["MicrosoftSQLServerSettings"]
    assert (created["ServerName"], created["Port"], created["Username"]) == ("sql1.example.com", 1433, "dms_user")
    assert created["Password"] == "Tr0ub4dor&3"  # moto echoes it back; real DMS never returns it


def test_a_sqlite_source_blocks_apply(aws: list[str]) -> None:
    settings = settings_for(aws)
    text = catalog_text(["sales"]) + "  - {name: local, enabled: true, source: 'sqlite:////tmp/x.db'}\n"
    clients = clients_for(settings)
    plan = plan_provisioning(settings, entries_of(text), clients)
    blocked = [c for c in plan.changes if c.action == "blocked"]
    assert [c.detail for c in blocked] == ["database local: DMS needs an mssql:// source, got sqlite"]
    with pytest.raises(ConfigError, match="nothing applied"):
        apply_plan(clients, plan)


def test_shared_strategy_has_one_target_per_instance(aws: list[str]) -> None:
    settings = settings_for(aws, dms_endpoint_strategy="shared-endpoint")
    clients = clients_for(settings)
    plan = plan_provisioning(settings, entries_of(catalog_text(["a1", "b2", "c3"])), clients)
    endpoints = {e.identifier: e for e in plan.desired.endpoints}
    assert sorted(endpoints) == ["a1-source", "b2-source", "c3-source", "sqlfleet-01-lake"]
    assert endpoints["sqlfleet-01-lake"].settings["BucketFolder"] == "raw/sqlfleet"


def test_databases_stay_on_the_instance_their_tasks_live_on(aws: list[str]) -> None:
    dms = boto3.client("dms", region_name=REGION)
    dms.create_replication_subnet_group(
        ReplicationSubnetGroupIdentifier="sqlfleet", ReplicationSubnetGroupDescription="x", SubnetIds=aws
    )
    legacy = dms.create_replication_instance(
        ReplicationInstanceIdentifier="legacy-ri", ReplicationInstanceClass="dms.t3.medium", AllocatedStorage=50
    )["ReplicationInstance"]["ReplicationInstanceArn"]
    endpoint = dms.create_endpoint(EndpointIdentifier="x", EndpointType="source", EngineName="sqlserver")
    arn = endpoint["Endpoint"]["EndpointArn"]
    dms.create_replication_task(
        ReplicationTaskIdentifier="crm-cdc",
        SourceEndpointArn=arn,
        TargetEndpointArn=arn,
        ReplicationInstanceArn=legacy,
        MigrationType="cdc",
        TableMappings="{}",
    )
    settings = settings_for(aws)
    plan = plan_provisioning(settings, entries_of(catalog_text(["sales", "crm"])), clients_for(settings))
    # the existing instance has room, so the new database joins it rather than a new instance
    assert plan.placement.assignments() == {"crm": "legacy-ri", "sales": "legacy-ri"}
    kinds = actions(plan.changes)
    assert kinds[("instance", "legacy-ri")] == "keep"
    assert ("instance", "sqlfleet-01") not in kinds
    moved = plan_provisioning(settings, entries_of(catalog_text(["sales", "crm"])), clients_for(settings), move=["crm"])
    assert moved.placement.assignments() == {"crm": "sqlfleet-01", "sales": "sqlfleet-01"}


# --- the command line ------------------------------------------------------------------------

runner = CliRunner()


def cli_env(subnets: list[str], catalog: Path, **extra: str) -> dict[str, str]:
    return {
        "SQLFLEET_CATALOG_PATH": str(catalog),
        "SQLFLEET_LAKE_URL": f"s3://{BUCKET}/raw/sqlfleet",
        "SQLFLEET_AWS_REGION": REGION,
        "SQLFLEET_DMS_SUBNET_IDS": ",".join(subnets),
        **extra,
    }


def test_cli_plan_places_250_databases_on_3_instances(aws: list[str], tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(catalog_text([f"db{n:03d}" for n in range(1, 251)]), encoding="utf-8")
    shared = cli_env(aws, catalog, SQLFLEET_DMS_ENDPOINT_STRATEGY="shared-endpoint", SQLFLEET_DMS_INSTANCE_COUNT="3")
    result = runner.invoke(app, ["aws", "plan"], env=shared)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "sqlfleet-01                84 databases    85/100 endpoints   168/200 tasks" in out
    assert "total                     250 databases   253/1000 endpoints   500/600 tasks" in out
    assert "Plan: 261 to create." in out  # bucket, 3 roles, subnet group, 3 instances, 250 + 3 endpoints
    per_db = cli_env(aws, catalog, SQLFLEET_DMS_INSTANCE_COUNT="3")
    result = runner.invoke(app, ["aws", "plan"], env=per_db)
    assert result.exit_code == 2
    assert "add 2 instance(s) (5 in all)" in result.stderr


def test_cli_apply_then_nothing_to_do(aws_policies: list[str], tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(catalog_text(["sales"]), encoding="utf-8")
    env = cli_env(aws_policies, catalog)
    result = runner.invoke(app, ["aws", "apply", "--yes"], env=env)
    assert result.exit_code == 0, result.output
    assert "Applied 8 change(s)." in result.stdout
    again = runner.invoke(app, ["aws", "apply"], env=env)
    assert again.exit_code == 0, again.output
    assert "Nothing to do." in again.stdout


# --- pure parts ------------------------------------------------------------------------------


def test_lake_policy_without_a_prefix_covers_the_bucket() -> None:
    policy = lake_access_policy("aws", "lake", "")
    statements: dict[str, Any] = {s["Sid"]: s for s in policy["Statement"]}  # type: ignore[attr-defined]
    assert statements["WriteLakeObjects"]["Resource"] == "arn:aws:s3:::lake/*"
    assert "Condition" not in statements["ListLakePrefix"] and "ReadSourceSecrets" not in statements


def test_diff_spots_drift_and_conflicts(aws: list[str]) -> None:
    settings = settings_for(aws)
    desired = plan_provisioning(settings, entries_of(catalog_text(["sales"])), clients_for(settings)).desired
    target = next(e for e in desired.endpoints if e.identifier == "sales-target")
    current = CurrentState(
        roles={"sqlfleet-dms-s3": RoleState(trusted_services=("dms.amazonaws.com",))},
        instances={
            "sqlfleet-01": InstanceState(
                instance_class="dms.t3.small", allocated_storage_gb=50, status="available", arn="a"
            )
        },
        endpoints={
            "sales-target": EndpointState(
                endpoint_type="TARGET", engine_name="s3", settings={**target.settings, "BucketFolder": "raw"}, arn="e"
            ),
            "sales-source": EndpointState(endpoint_type="target", engine_name="s3", settings={}, arn="f"),
        },
    )
    changes = {(c.kind, c.identifier): c for c in diff_fleet(desired, current)}
    role = changes[("role", "sqlfleet-dms-s3")]
    assert role.action == "update" and f"dms.{REGION}.amazonaws.com" in role.detail and "inline policy" in role.detail
    assert changes[("instance", "sqlfleet-01")].action == "update"
    assert changes[("endpoint", "sales-target")].action == "update"
    assert "BucketFolder" in changes[("endpoint", "sales-target")].detail
    assert changes[("endpoint", "sales-source")].action == "blocked"


@pytest.mark.parametrize(
    ("code", "status", "error"),
    [
        ("ThrottlingException", 400, TransientError),
        ("InternalFailure", 500, TransientError),
        ("AccessDeniedFault", 400, ConfigError),
        ("InvalidClientTokenId", 403, ConfigError),
        ("InvalidParameterValueException", 400, TerminalError),
    ],
)
def test_aws_errors_are_translated_by_what_to_do_next(code: str, status: int, error: type[Exception]) -> None:
    exc = ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "CreateEndpoint"
    )
    translated = translate_aws_error(exc, "creating endpoint x")
    assert type(translated) is error and f"creating endpoint x: {code}" in str(translated)


def test_policy_documents_stay_json_serialisable() -> None:
    json.dumps(lake_access_policy("aws-cn", "lake", "p", ["arn:aws-cn:secretsmanager:cn-north-1:1:secret:x"]))


def test_cli_plan_exits_2_when_apply_would_refuse(aws: list[str], tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(catalog_text(["sales"]) + "  - {name: local, enabled: true, source: 'sqlite:///x.db'}\n")
    result = runner.invoke(app, ["aws", "plan"], env=cli_env(aws, catalog))
    assert result.exit_code == 2
    assert "x blocked  catalog       catalog  database local: DMS needs an mssql:// source" in result.stdout
    assert "apply would refuse" in result.stderr

"""Reading what a DMS fleet already has in AWS (S3, IAM, DMS) into the pure ``CurrentState``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote

from botocore.exceptions import BotoCoreError, ClientError

from sqlfleet.aws.clients import AwsClients, aws_call, error_code, translate_aws_error
from sqlfleet.aws.desired import DesiredFleet, RoleSpec
from sqlfleet.aws.diff import BucketState, CurrentState, EndpointState, InstanceState, RoleState
from sqlfleet.dms.names import task_identifier
from sqlfleet.dms.placement import Quotas, quotas_from_account_attributes
from sqlfleet.engines.base import MigrationType

_MODES: tuple[MigrationType, ...] = ("full-load", "cdc", "full-load-and-cdc")
_CHUNK = 50  # identifiers per describe filter: each call stays within one 100-record page


def read_identity(clients: AwsClients) -> tuple[str, str]:
    """``(account id, partition)`` of the caller."""
    with aws_call("reading the caller identity"):
        identity = clients.sts.get_caller_identity()
    return str(identity["Account"]), str(identity["Arn"]).split(":")[1]


def read_quotas(clients: AwsClients) -> tuple[Quotas, list[str]]:
    """The account's DMS quotas, or the defaults with a warning when they cannot be read
    (moto does not implement ``DescribeAccountAttributes``; a policy may deny it)."""
    try:
        response = clients.dms.describe_account_attributes()
        return quotas_from_account_attributes(response.get("AccountQuotas", [])), []
    except (ClientError, BotoCoreError, NotImplementedError, ValueError) as exc:
        return Quotas(), [f"could not read the DMS account quotas ({exc}); using the documented defaults"]


def _describe_chunked(call: Any, result_key: str, filter_name: str, values: Sequence[str], **extra: Any) -> list[Any]:
    """Every record matching ``values`` of a filter, a chunk of values at a time, following
    ``Marker`` (real DMS raises ``ResourceNotFoundFault`` when nothing matches)."""
    found: list[Any] = []
    for start in range(0, len(values), _CHUNK):
        marker: str | None = None
        while True:
            args: dict[str, Any] = {
                "Filters": [{"Name": filter_name, "Values": list(values[start : start + _CHUNK])}],
                "MaxRecords": 100,
                **extra,
            }
            if marker:
                args["Marker"] = marker
            try:
                page = call(**args)
            except ClientError as exc:
                if error_code(exc) == "ResourceNotFoundFault":
                    break
                raise
            found.extend(page.get(result_key, []))
            marker = page.get("Marker")
            if not marker:
                break
    return found


def read_existing_placement(clients: AwsClients, databases: Sequence[str]) -> dict[str, str]:
    """Database -> instance identifier, from the instances the databases' tasks live on."""
    owner = {task_identifier(db, mode): db for db in databases for mode in _MODES}
    with aws_call("listing replication tasks"):
        tasks = _describe_chunked(
            clients.dms.describe_replication_tasks,
            "ReplicationTasks",
            "replication-task-id",
            sorted(owner),
            WithoutSettings=True,
        )
        arns = sorted({t["ReplicationInstanceArn"] for t in tasks if t.get("ReplicationInstanceArn")})
        instances = _describe_chunked(
            clients.dms.describe_replication_instances, "ReplicationInstances", "replication-instance-arn", arns
        )
    name_of = {i["ReplicationInstanceArn"]: i["ReplicationInstanceIdentifier"] for i in instances}
    placement: dict[str, str] = {}
    for task in sorted(tasks, key=lambda t: t["ReplicationTaskIdentifier"]):
        db = owner.get(task["ReplicationTaskIdentifier"])
        instance = name_of.get(task.get("ReplicationInstanceArn", ""))
        if db is not None and instance is not None:
            placement.setdefault(db, instance)
    return placement


def read_current(clients: AwsClients, desired: DesiredFleet) -> CurrentState:
    """What exists of ``desired``."""
    roles = {}
    for role in (desired.service_role, *desired.account_roles):
        state = _read_role(clients, role)
        if state is not None:
            roles[role.name] = state
    with aws_call("describing DMS resources"):
        try:
            groups = clients.dms.describe_replication_subnet_groups(
                Filters=[{"Name": "replication-subnet-group-id", "Values": [desired.subnet_group]}]
            )["ReplicationSubnetGroups"]
        except ClientError as exc:
            if error_code(exc) != "ResourceNotFoundFault":
                raise
            groups = []
        instances = _describe_chunked(
            clients.dms.describe_replication_instances,
            "ReplicationInstances",
            "replication-instance-id",
            [i.identifier for i in desired.instances],
        )
        endpoints = _describe_chunked(
            clients.dms.describe_endpoints, "Endpoints", "endpoint-id", [e.identifier for e in desired.endpoints]
        )
    by_id = {e.identifier: e for e in desired.endpoints}
    return CurrentState(
        bucket=_read_bucket(clients, desired.bucket),
        roles=roles,
        subnet_group_subnets=tuple(s["SubnetIdentifier"] for s in groups[0].get("Subnets", [])) if groups else None,
        instances={
            i["ReplicationInstanceIdentifier"]: InstanceState(
                instance_class=i["ReplicationInstanceClass"],
                allocated_storage_gb=int(i.get("AllocatedStorage", 0)),
                status=i.get("ReplicationInstanceStatus", "unknown"),
                arn=i["ReplicationInstanceArn"],
            )
            for i in instances
        },
        endpoints={
            e["EndpointIdentifier"]: EndpointState(
                endpoint_type=e["EndpointType"],
                engine_name=e["EngineName"],
                settings=dict(e.get(by_id[e["EndpointIdentifier"]].settings_key, {}))
                if e["EndpointIdentifier"] in by_id
                else {},
                arn=e["EndpointArn"],
            )
            for e in endpoints
        },
    )


def _read_bucket(clients: AwsClients, bucket: str) -> BucketState | None:
    try:
        clients.s3.head_bucket(Bucket=bucket)
    except ClientError as exc:
        if error_code(exc) in {"404", "NoSuchBucket", "NotFound"}:
            return None
        if error_code(exc) in {"403", "AccessDenied"}:
            return BucketState(accessible=False)
        raise translate_aws_error(exc, f"reading bucket {bucket}") from exc
    with aws_call(f"reading bucket {bucket}"):
        location = clients.s3.get_bucket_location(Bucket=bucket).get("LocationConstraint")
        versioning = clients.s3.get_bucket_versioning(Bucket=bucket).get("Status")
    # an empty LocationConstraint means us-east-1; "EU" is the legacy name of eu-west-1
    region = {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}.get(location, location)
    return BucketState(region=region, versioning=versioning)


def _read_role(clients: AwsClients, role: RoleSpec) -> RoleState | None:
    with aws_call(f"reading IAM role {role.name}"):
        try:
            found = clients.iam.get_role(RoleName=role.name)["Role"]
        except ClientError as exc:
            if error_code(exc) == "NoSuchEntity":
                return None
            raise
        inline: dict[str, dict[str, object]] = {}
        if role.inline_policy_name:
            try:
                document = clients.iam.get_role_policy(RoleName=role.name, PolicyName=role.inline_policy_name)
                inline[role.inline_policy_name] = _policy_document(document["PolicyDocument"])
            except ClientError as exc:
                if error_code(exc) != "NoSuchEntity":
                    raise
        attached = [
            p["PolicyArn"]
            for page in clients.iam.get_paginator("list_attached_role_policies").paginate(RoleName=role.name)
            for p in page["AttachedPolicies"]
        ]
    return RoleState(
        trusted_services=_trusted_services(_policy_document(found.get("AssumeRolePolicyDocument", {}))),
        inline_policies=inline,
        managed_policy_arns=tuple(attached),
    )


def _policy_document(raw: object) -> dict[str, object]:
    # boto3 decodes IAM policy documents to dicts; some endpoints return URL-encoded JSON
    if isinstance(raw, str):
        return dict(json.loads(unquote(raw)))
    return dict(raw) if isinstance(raw, dict) else {}


def _trusted_services(document: dict[str, object]) -> tuple[str, ...]:
    services: list[str] = []
    statements = document.get("Statement", [])
    for statement in statements if isinstance(statements, list) else [statements]:
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        principal = statement.get("Principal", {})
        service = principal.get("Service", []) if isinstance(principal, dict) else []
        services.extend([service] if isinstance(service, str) else list(service))
    return tuple(sorted(set(services)))

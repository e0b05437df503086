"""The boto3 adapter behind ``sqlfleet aws plan`` / ``sqlfleet aws apply``.

Reads what exists (``sqlfleet.aws.read``), computes the placement and the diff with the pure
modules, and creates or updates what is missing, in order: bucket, roles, subnet group,
instances, endpoints. It never deletes anything.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from sqlfleet.aws.clients import AwsClients, aws_call
from sqlfleet.aws.desired import DesiredFleet, EndpointSpec, RoleSpec, desired_fleet
from sqlfleet.aws.diff import Change, CurrentState, RoleState, diff_fleet
from sqlfleet.aws.read import read_current, read_existing_placement, read_identity, read_quotas
from sqlfleet.catalog import DatabaseEntry
from sqlfleet.dms.endpoints import EndpointSettings
from sqlfleet.dms.names import instance_identifier
from sqlfleet.dms.placement import Placement, place_databases
from sqlfleet.errors import ConfigError, SqlfleetError
from sqlfleet.settings import Settings

log = logging.getLogger(__name__)

PasswordResolver = Callable[[str], SecretStr]
_TAGS = [{"Key": "managed-by", "Value": "sqlfleet"}]


@dataclass(frozen=True)
class ProvisioningPlan:
    """The placement, the desired resources, what exists and the changes between them."""

    placement: Placement
    desired: DesiredFleet
    current: CurrentState
    changes: list[Change]
    warnings: list[str]


def plan_provisioning(
    settings: Settings,
    entries: Sequence[DatabaseEntry],
    clients: AwsClients,
    *,
    move: Collection[str] = (),
    suspend_versioning: bool = False,
) -> ProvisioningPlan:
    """Read the account, place the databases and compute the changes (changes nothing)."""
    account, partition = read_identity(clients)
    quotas, warnings = read_quotas(clients)
    names = [e.name for e in entries]
    existing = read_existing_placement(clients, names)
    count = settings.dms_instance_count
    prefix = settings.dms_instance_prefix
    placement = place_databases(
        names,
        strategy=settings.dms_endpoint_strategy,
        modes_per_database=settings.dms_modes_per_database,
        quotas=quotas,
        existing=existing,
        instances=[instance_identifier(i, prefix) for i in range(1, count + 1)] if count else None,
        move=move,
        instance_prefix=prefix,
    )
    desired = desired_fleet(
        entries,
        placement,
        region=clients.region,
        partition=partition,
        account_id=account,
        lake_url=settings.lake_url,
        service_role_name=settings.dms_service_role_name,
        subnet_group=settings.dms_subnet_group,
        subnet_ids=settings.dms_subnet_ids,
        instance_class=settings.dms_instance_class,
        allocated_storage_gb=settings.dms_allocated_storage_gb,
        security_group_ids=settings.dms_security_group_ids,
        timestamp_column=settings.timestamp_column,
    )
    current = read_current(clients, desired)
    changes = diff_fleet(desired, current, suspend_versioning=suspend_versioning)
    return ProvisioningPlan(placement, desired, current, changes, warnings)


def apply_plan(
    clients: AwsClients, plan: ProvisioningPlan, *, password_resolver: PasswordResolver | None = None
) -> list[Change]:
    """Carry out the plan's ``create``/``update`` changes, in order; the changes done.

    Refuses (``ConfigError``, nothing changed) when any change is ``blocked``. Idempotent: a
    second apply of a fresh plan finds everything and does nothing.
    """
    blocked = [c for c in plan.changes if c.action == "blocked"]
    if blocked:
        raise ConfigError("nothing applied; fix these first:\n" + "\n".join(f"  {c.render()}" for c in blocked))
    done: list[Change] = []
    for change in plan.changes:
        if change.action not in ("create", "update"):
            continue
        with aws_call(f"{change.action} {change.kind} {change.identifier}"):
            _apply_one(clients, plan, change, password_resolver)
        log.info("applied: %s", change.render())
        done.append(change)
    return done


def _apply_one(
    clients: AwsClients, plan: ProvisioningPlan, change: Change, password_resolver: PasswordResolver | None
) -> None:
    desired = plan.desired
    if change.kind == "bucket":
        if change.action == "update":
            clients.s3.put_bucket_versioning(Bucket=desired.bucket, VersioningConfiguration={"Status": "Suspended"})
            return
        args: dict[str, Any] = {"Bucket": desired.bucket}
        if desired.region != "us-east-1":
            args["CreateBucketConfiguration"] = {"LocationConstraint": desired.region}
        clients.s3.create_bucket(**args)  # new buckets are unversioned, as DMS needs
        clients.s3.put_public_access_block(
            Bucket=desired.bucket,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
    elif change.kind == "role":
        role = next(r for r in (desired.service_role, *desired.account_roles) if r.name == change.identifier)
        _ensure_role(clients, role, plan.current.roles.get(role.name))
    elif change.kind == "subnet-group":
        clients.dms.create_replication_subnet_group(
            ReplicationSubnetGroupIdentifier=desired.subnet_group,
            ReplicationSubnetGroupDescription="sqlfleet replication instances",
            SubnetIds=list(desired.subnet_ids),
            Tags=_TAGS,
        )
    elif change.kind == "instance":
        spec = next(i for i in desired.instances if i.identifier == change.identifier)
        if change.action == "update":
            clients.dms.modify_replication_instance(
                ReplicationInstanceArn=plan.current.instances[spec.identifier].arn,
                ReplicationInstanceClass=spec.instance_class,
                AllocatedStorage=spec.allocated_storage_gb,
                ApplyImmediately=True,
            )
            return
        args = {
            "ReplicationInstanceIdentifier": spec.identifier,
            "ReplicationInstanceClass": spec.instance_class,
            "AllocatedStorage": spec.allocated_storage_gb,
            "ReplicationSubnetGroupIdentifier": spec.subnet_group,
            "PubliclyAccessible": False,
            "MultiAZ": False,
            "Tags": _TAGS,
        }
        if spec.security_group_ids:
            args["VpcSecurityGroupIds"] = list(spec.security_group_ids)
        clients.dms.create_replication_instance(**args)
    elif change.kind == "endpoint":
        endpoint = next(e for e in desired.endpoints if e.identifier == change.identifier)
        _ensure_endpoint(clients, plan, endpoint, change, password_resolver)


def _ensure_role(clients: AwsClients, role: RoleSpec, state: RoleState | None) -> None:
    trust = json.dumps(role.trust_policy())
    if state is None:
        clients.iam.create_role(
            RoleName=role.name,
            AssumeRolePolicyDocument=trust,
            Description="sqlfleet: AWS DMS",
            Tags=_TAGS,
        )
    elif not set(role.trusted_services) <= set(state.trusted_services):
        clients.iam.update_assume_role_policy(RoleName=role.name, PolicyDocument=trust)
    if role.inline_policy_name and role.inline_policy is not None:
        clients.iam.put_role_policy(
            RoleName=role.name, PolicyName=role.inline_policy_name, PolicyDocument=json.dumps(role.inline_policy)
        )
    for arn in role.managed_policy_arns:
        if state is None or arn not in state.managed_policy_arns:
            clients.iam.attach_role_policy(RoleName=role.name, PolicyArn=arn)


def _ensure_endpoint(
    clients: AwsClients,
    plan: ProvisioningPlan,
    endpoint: EndpointSpec,
    change: Change,
    password_resolver: PasswordResolver | None,
) -> None:
    settings = EndpointSettings(endpoint.settings)
    if change.action == "update":
        # merge (ExactSettings false): keys not sent, such as the password, are kept
        clients.dms.modify_endpoint(
            EndpointArn=plan.current.endpoints[endpoint.identifier].arn, **{endpoint.settings_key: settings}
        )
        return
    if endpoint.password_block is not None:
        if password_resolver is None:
            raise ConfigError(f"endpoint {endpoint.identifier}: its password is in {endpoint.password_block!r}")
        try:
            settings["Password"] = password_resolver(endpoint.password_block).get_secret_value()
        except SqlfleetError:
            raise
        except Exception as exc:
            raise ConfigError(
                f"endpoint {endpoint.identifier}: cannot read secret {endpoint.password_block!r}: {exc}"
            ) from exc
    tags = [*_TAGS, *([{"Key": "sqlfleet:database", "Value": endpoint.database}] if endpoint.database else [])]
    clients.dms.create_endpoint(
        EndpointIdentifier=endpoint.identifier,
        EndpointType=endpoint.endpoint_type,
        EngineName=endpoint.engine_name,
        Tags=tags,
        **{endpoint.settings_key: settings},
    )

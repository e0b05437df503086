"""What a DMS fleet needs in AWS, derived from the catalog, the settings and the placement (pure).

Resources: the lake bucket, the DMS service role (S3 writes scoped to the lake prefix, reads of
the sources' Secrets Manager secrets), the two account-level roles DMS's API needs, the
replication subnet group, the replication instances of the placement, and the endpoints (a
source per database; a target per database or one shared per instance).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, SecretStr

from sqlfleet.catalog import DatabaseEntry
from sqlfleet.dms.endpoints import s3_target_settings, sqlserver_source_settings
from sqlfleet.dms.names import endpoint_identifier, shared_target_endpoint_identifier
from sqlfleet.dms.placement import Placement
from sqlfleet.errors import ConfigError
from sqlfleet.layout import bucket_folder

_FROZEN = ConfigDict(frozen=True, extra="forbid")
_SECRET_ARN = re.compile(r"^arn:aws[a-z-]*:secretsmanager:")
# Account-level roles the DMS API requires under these exact names (reference/dms.md §3).
VPC_ROLE = "dms-vpc-role"
LOGS_ROLE = "dms-cloudwatch-logs-role"


class RoleSpec(BaseModel):
    """An IAM role: trusted services, an optional inline policy, attached managed policies."""

    model_config = _FROZEN

    name: str
    trusted_services: tuple[str, ...]
    inline_policy_name: str | None = None
    inline_policy: dict[str, object] | None = None
    managed_policy_arns: tuple[str, ...] = ()

    def trust_policy(self) -> dict[str, object]:
        """The role's assume-role policy document."""
        return {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": list(self.trusted_services)},
                    "Action": "sts:AssumeRole",
                }
            ],
        }


class InstanceSpec(BaseModel):
    """A replication instance to create (never deleted or shrunk here)."""

    model_config = _FROZEN

    identifier: str
    instance_class: str
    allocated_storage_gb: int
    subnet_group: str
    security_group_ids: tuple[str, ...] = ()
    databases: int = 0


class EndpointSpec(BaseModel):
    """A DMS endpoint. ``settings`` never hold a password: a source whose password lives in a
    Prefect Secret block names it in ``password_block``, resolved only when creating."""

    model_config = _FROZEN

    identifier: str
    endpoint_type: str
    engine_name: str
    settings: dict[str, object]
    database: str | None = None
    password_block: str | None = None

    @property
    def settings_key(self) -> str:
        """The ``CreateEndpoint`` argument holding ``settings``."""
        return "S3Settings" if self.engine_name == "s3" else "MicrosoftSQLServerSettings"


class DesiredFleet(BaseModel):
    """Every AWS resource the fleet needs."""

    model_config = _FROZEN

    region: str
    bucket: str
    lake_prefix: str
    service_role: RoleSpec
    account_roles: tuple[RoleSpec, ...]
    subnet_group: str
    subnet_ids: tuple[str, ...]
    instances: tuple[InstanceSpec, ...]
    endpoints: tuple[EndpointSpec, ...]
    problems: tuple[str, ...] = ()


def lake_location(lake_url: str) -> tuple[str, str]:
    """``(bucket, prefix)`` of an ``s3://bucket/prefix`` lake URL; ``ConfigError`` otherwise."""
    parts = urlsplit(lake_url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ConfigError(f"DMS writes to S3: set SQLFLEET_LAKE_URL to s3://<bucket>/<prefix>, got {lake_url!r}")
    return parts.netloc, bucket_folder(parts.path)


def role_arn(partition: str, account_id: str, name: str) -> str:
    """The ARN of role ``name``."""
    return f"arn:{partition}:iam::{account_id}:role/{name}"


def lake_access_policy(partition: str, bucket: str, prefix: str, secret_arns: Sequence[str] = ()) -> dict[str, object]:
    """Least privilege for DMS's S3 target (user guide): write, delete and tag objects under the
    lake prefix, list only that prefix; plus reading the sources' secrets, if any."""
    objects = f"arn:{partition}:s3:::{bucket}/{prefix + '/' if prefix else ''}*"
    listing: dict[str, object] = {
        "Sid": "ListLakePrefix",
        "Effect": "Allow",
        "Action": "s3:ListBucket",
        "Resource": f"arn:{partition}:s3:::{bucket}",
    }
    if prefix:
        listing["Condition"] = {"StringLike": {"s3:prefix": [prefix, f"{prefix}/*"]}}
    statements: list[dict[str, object]] = [
        {
            "Sid": "WriteLakeObjects",
            "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:DeleteObject", "s3:PutObjectTagging"],
            "Resource": objects,
        },
        listing,
    ]
    if secret_arns:
        statements.append(
            {
                "Sid": "ReadSourceSecrets",
                "Effect": "Allow",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": sorted(set(secret_arns)),
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def desired_fleet(
    entries: Sequence[DatabaseEntry],
    placement: Placement,
    *,
    region: str,
    partition: str,
    account_id: str,
    lake_url: str,
    service_role_name: str,
    subnet_group: str,
    subnet_ids: Sequence[str],
    instance_class: str,
    allocated_storage_gb: int,
    security_group_ids: Sequence[str] = (),
    timestamp_column: str = "_dms_ts",
) -> DesiredFleet:
    """The resources ``entries`` need, placed as ``placement`` says. Databases that cannot get a
    DMS source endpoint (not mssql, no credentials) are listed in ``problems``."""
    bucket, prefix = lake_location(lake_url)
    service_arn = role_arn(partition, account_id, service_role_name)
    secrets = [
        e.credentials.password_secret
        for e in entries
        if e.credentials is not None and _SECRET_ARN.match(e.credentials.password_secret)
    ]
    service_role = RoleSpec(
        name=service_role_name,
        # the regional principal is required for Secrets Manager access (user guide, "Using secrets")
        trusted_services=("dms.amazonaws.com", f"dms.{region}.amazonaws.com"),
        inline_policy_name="sqlfleet-lake-access",
        inline_policy=lake_access_policy(partition, bucket, prefix, secrets),
    )
    managed = f"arn:{partition}:iam::aws:policy/service-role"
    account_roles = (
        RoleSpec(
            name=VPC_ROLE,
            trusted_services=("dms.amazonaws.com",),
            managed_policy_arns=(f"{managed}/AmazonDMSVPCManagementRole",),
        ),
        RoleSpec(
            name=LOGS_ROLE,
            trusted_services=("dms.amazonaws.com",),
            managed_policy_arns=(f"{managed}/AmazonDMSCloudWatchLogsRole",),
        ),
    )
    problems: list[str] = []
    if len(subnet_ids) < 2:
        problems.append("a replication subnet group needs subnets in at least 2 AZs: set SQLFLEET_DMS_SUBNET_IDS")
    instances = tuple(
        InstanceSpec(
            identifier=p.instance,
            instance_class=instance_class,
            allocated_storage_gb=allocated_storage_gb,
            subnet_group=subnet_group,
            security_group_ids=tuple(security_group_ids),
            databases=len(p.databases),
        )
        for p in placement.instances
    )
    endpoints: list[EndpointSpec] = []
    for entry in entries:
        source = _source_endpoint(entry, service_arn)
        if isinstance(source, str):
            problems.append(source)
        else:
            endpoints.append(source)
        if placement.strategy == "per-database-endpoint":
            endpoints.append(
                _target_endpoint(
                    endpoint_identifier(entry.name, "target"),
                    bucket=bucket,
                    folder=bucket_folder(prefix, entry.name),
                    role=service_arn,
                    timestamp_column=timestamp_column,
                    database=entry.name,
                )
            )
    if placement.strategy == "shared-endpoint":
        endpoints.extend(
            _target_endpoint(
                shared_target_endpoint_identifier(p.instance),
                bucket=bucket,
                folder=prefix,
                role=service_arn,
                timestamp_column=timestamp_column,
                database=None,
            )
            for p in placement.instances
            if p.databases
        )
    return DesiredFleet(
        region=region,
        bucket=bucket,
        lake_prefix=prefix,
        service_role=service_role,
        account_roles=account_roles,
        subnet_group=subnet_group,
        subnet_ids=tuple(subnet_ids),
        instances=instances,
        endpoints=tuple(endpoints),
        problems=tuple(problems),
    )


def _target_endpoint(
    identifier: str, *, bucket: str, folder: str, role: str, timestamp_column: str, database: str | None
) -> EndpointSpec:
    settings = s3_target_settings(
        bucket=bucket, bucket_folder=folder, service_access_role_arn=role, timestamp_column=timestamp_column
    )
    return EndpointSpec(
        identifier=identifier, endpoint_type="target", engine_name="s3", settings=settings, database=database
    )


def _source_endpoint(entry: DatabaseEntry, service_role_arn: str) -> EndpointSpec | str:
    if entry.source_kind != "mssql":
        return f"database {entry.name}: DMS needs an mssql:// source, got {entry.source_kind}"
    if entry.credentials is None:
        return f"database {entry.name}: no credentials (username, password_secret) in the catalog"
    secret = entry.credentials.password_secret
    identifier = endpoint_identifier(entry.name, "source")
    if _SECRET_ARN.match(secret):
        settings = sqlserver_source_settings(entry, secrets_manager_access_role_arn=service_role_arn)
        return EndpointSpec(
            identifier=identifier,
            endpoint_type="source",
            engine_name="sqlserver",
            settings=dict(settings),
            database=entry.name,
        )
    # A Prefect Secret block: the password is read only when the endpoint is created.
    settings = sqlserver_source_settings(entry, password=SecretStr(""))
    return EndpointSpec(
        identifier=identifier,
        endpoint_type="source",
        engine_name="sqlserver",
        settings={k: v for k, v in settings.items() if k != "Password"},
        database=entry.name,
        password_block=secret,
    )

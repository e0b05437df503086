"""What ``sqlfleet snowflake setup`` creates once per account, and the IAM policies it prints (pure).

Order of the AWS/Snowflake handshake (reference/snowflake.md §1.1): create the IAM role (any
placeholder trust), create the storage integration naming the role and a FIXED external id,
``DESC INTEGRATION`` for Snowflake's IAM user, then put the trust policy printed here on the
role. The integration is created ``IF NOT EXISTS`` and converged with ``ALTER ... SET``, never
``CREATE OR REPLACE``: replacing it would mint a new identity and break the trust.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, model_validator

from sqlfleet.sql.bookkeeping import BOOKKEEPING_SCHEMA
from sqlfleet.sql.identifiers import qualified_name, quote_identifier
from sqlfleet.sql.snowflake import (
    PARQUET_OPTIONS,
    create_bookkeeping_sql,
    create_database_sql,
    create_schema_sql,
    string_literal,
)

PARQUET_FORMAT = "parquet"


class SetupPlan(BaseModel):
    """Everything the one-time setup needs."""

    model_config = ConfigDict(frozen=True)

    integration: str
    aws_role_arn: str
    external_id: str
    stage_url: str
    database: str
    stage: str = "lake"
    schemas: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _check(self) -> SetupPlan:
        """Check the stage URL (``s3://bucket/prefix/``), the role ARN and the external id up front."""
        split_s3_url(self.stage_url)
        if not self.aws_role_arn.startswith("arn:aws") or ":role/" not in self.aws_role_arn:
            raise ValueError(f"not an IAM role ARN: {self.aws_role_arn!r}")
        if not self.external_id.strip():
            raise ValueError("the storage integration needs a fixed, non-empty external id")
        return self


class IntegrationIdentity(BaseModel):
    """The two values ``DESC INTEGRATION`` gives that the IAM trust policy needs."""

    model_config = ConfigDict(frozen=True)

    iam_user_arn: str
    external_id: str


def split_s3_url(url: str) -> tuple[str, str]:
    """``("bucket", "prefix/")`` of ``s3://bucket/prefix``; the prefix is ``""`` at the bucket root."""
    parsed = urlparse(url)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ValueError(f"the stage URL must be s3://<bucket>/<prefix>, got {url!r}")
    prefix = parsed.path.strip("/")
    return parsed.netloc, f"{prefix}/" if prefix else ""


def stage_location(url: str) -> str:
    """The stage URL in the form Snowflake matches against allowed locations (``s3://bucket/prefix/``)."""
    bucket, prefix = split_s3_url(url)
    return f"s3://{bucket}/{prefix}"


def integration_sql(plan: SetupPlan) -> list[str]:
    """Create the storage integration if absent, then converge its settings (same identity)."""
    name = quote_identifier(plan.integration)
    location = string_literal(stage_location(plan.stage_url))
    settings = (
        f"STORAGE_AWS_ROLE_ARN = {string_literal(plan.aws_role_arn)} "
        f"STORAGE_AWS_EXTERNAL_ID = {string_literal(plan.external_id)} "
        f"STORAGE_ALLOWED_LOCATIONS = ({location})"
    )
    return [
        f"CREATE STORAGE INTEGRATION IF NOT EXISTS {name} TYPE = EXTERNAL_STAGE STORAGE_PROVIDER = 'S3' "
        f"ENABLED = TRUE {settings} COMMENT = 'sqlfleet: read-only access to the lake'",
        f"ALTER STORAGE INTEGRATION {name} SET ENABLED = TRUE {settings}",
    ]


def describe_integration_sql(integration: str) -> str:
    """``DESC INTEGRATION``: one row per property (property, type, value, default)."""
    return f"DESC INTEGRATION {quote_identifier(integration)}"


def stage_sql(plan: SetupPlan) -> list[str]:
    """The named Parquet file format and the external stage on the lake (both in ``_sqlfleet``)."""
    fmt = qualified_name(plan.database, BOOKKEEPING_SCHEMA, PARQUET_FORMAT)
    stage = qualified_name(plan.database, BOOKKEEPING_SCHEMA, plan.stage)
    # The stage can be replaced freely (it holds no identity); COPY still names its format itself.
    return [
        f"CREATE FILE FORMAT IF NOT EXISTS {fmt} {PARQUET_OPTIONS}",
        f"CREATE OR REPLACE STAGE {stage} URL = {string_literal(stage_location(plan.stage_url))} "
        f"STORAGE_INTEGRATION = {quote_identifier(plan.integration)} "
        f"FILE_FORMAT = (FORMAT_NAME = {string_literal(fmt)})",
    ]


def setup_statements(plan: SetupPlan) -> list[str]:
    """Every statement of the setup, in order: integration, database, schemas, bookkeeping, format, stage."""
    statements = integration_sql(plan)
    statements.append(create_database_sql(plan.database))
    statements += create_bookkeeping_sql(plan.database)
    statements += [create_schema_sql(plan.database, schema) for schema in plan.schemas]
    statements += stage_sql(plan)
    return statements


def integration_identity(rows: Iterable[Sequence[Any]]) -> IntegrationIdentity:
    """Read ``STORAGE_AWS_IAM_USER_ARN`` and ``STORAGE_AWS_EXTERNAL_ID`` from ``DESC INTEGRATION`` rows.

    Each row is ``(property, property_type, property_value, property_default)``; ``ValueError``
    names a property that is missing or empty.
    """
    props = {str(row[0]).upper(): str(row[2]) if row[2] is not None else "" for row in rows if len(row) >= 3}
    missing = [p for p in ("STORAGE_AWS_IAM_USER_ARN", "STORAGE_AWS_EXTERNAL_ID") if not props.get(p)]
    if missing:
        raise ValueError(f"DESC INTEGRATION did not return {', '.join(missing)}")
    return IntegrationIdentity(
        iam_user_arn=props["STORAGE_AWS_IAM_USER_ARN"], external_id=props["STORAGE_AWS_EXTERNAL_ID"]
    )


def trust_policy(identity: IntegrationIdentity) -> dict[str, Any]:
    """The IAM role's trust policy: only Snowflake's IAM user, only with this integration's external id."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": identity.iam_user_arn},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": identity.external_id}},
            }
        ],
    }


def permissions_policy(stage_url: str) -> dict[str, Any]:
    """The role's least-privilege permissions: read objects and list keys under the lake prefix only.

    No ``s3:PutObject`` (nothing is unloaded) and no ``s3:DeleteObject`` (COPY never purges).
    """
    bucket, prefix = split_s3_url(stage_url)
    list_bucket: dict[str, Any] = {
        "Sid": "ListLakePrefix",
        "Effect": "Allow",
        "Action": "s3:ListBucket",
        "Resource": f"arn:aws:s3:::{bucket}",
    }
    if prefix:
        list_bucket["Condition"] = {"StringLike": {"s3:prefix": [f"{prefix}*"]}}
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadLakeObjects",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:GetObjectVersion"],
                "Resource": f"arn:aws:s3:::{bucket}/{prefix}*",
            },
            list_bucket,
            {
                "Sid": "LocateBucket",
                "Effect": "Allow",
                "Action": "s3:GetBucketLocation",
                "Resource": f"arn:aws:s3:::{bucket}",
            },
        ],
    }

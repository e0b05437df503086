"""Runtime settings: one pydantic-settings root, built at the entry point (never at import time).

Every field can be set from the environment with the ``SQLFLEET_`` prefix, e.g.
``SQLFLEET_LAKE_URL=s3://my-bucket/lake`` or ``SQLFLEET_WAREHOUSE_URL=duckdb:///tmp/w.duckdb``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlparse

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

EngineName = Literal["local", "dms"]


def _default_workers() -> int:
    return max(1, os.cpu_count() or 1)


class Settings(BaseSettings):
    """sqlfleet settings. Relative paths are resolved against the working directory."""

    model_config = SettingsConfigDict(env_prefix="SQLFLEET_", extra="forbid", frozen=True)

    engine: EngineName = Field(default="local", description="Replication engine: embedded 'local' or AWS 'dms'.")
    catalog_path: Path = Field(default=Path("catalog.yaml"), description="The fleet catalog (YAML).")
    lake_url: str = Field(
        default="file://./data/lake",
        description="Lake root: file://<folder> or s3://<bucket>/<prefix>.",
    )
    lake_endpoint_url: str | None = Field(
        default=None, description="S3-compatible endpoint (MinIO, moto, ...); None for AWS S3."
    )
    lake_region: str | None = Field(default=None, description="S3 region of the lake bucket.")
    lake_access_key_id: SecretStr | None = Field(default=None, description="S3 key id; None uses the AWS chain.")
    lake_secret_access_key: SecretStr | None = Field(default=None, description="S3 secret key.")
    warehouse_url: str = Field(
        default="duckdb:///./data/warehouse.duckdb",
        description="duckdb:///<path> or snowflake://<account>/<database>?warehouse=<wh>&role=<role>.",
    )
    warehouse_concurrency: int = Field(
        default=8, ge=1, le=64, description="Warehouse statements at once (Snowflake MAX_CONCURRENCY_LEVEL is 8)."
    )
    # --- Snowflake (SQLFLEET_WAREHOUSE_URL=snowflake://...); secrets are never logged ---
    snowflake_user: str | None = Field(default=None, description="Snowflake login name.")
    snowflake_password: SecretStr | None = Field(default=None, description="Password (prefer a key pair).")
    snowflake_private_key_path: Path | None = Field(default=None, description="PEM private key for key-pair auth.")
    snowflake_private_key_passphrase: SecretStr | None = Field(default=None, description="Passphrase of that key.")
    snowflake_secret_block: str | None = Field(
        default=None, description="Prefect Secret block holding the password or the PEM private key."
    )
    snowflake_storage_integration: str = Field(default="sqlfleet_lake", description="Storage integration name.")
    snowflake_stage: str = Field(default="lake", description="External stage on the lake (in schema _sqlfleet).")
    snowflake_stage_url: str | None = Field(
        default=None, description="s3://bucket/prefix/ the stage points at; default: the lake URL."
    )
    snowflake_aws_role_arn: str | None = Field(default=None, description="IAM role Snowflake assumes to read the lake.")
    snowflake_aws_external_id: str | None = Field(
        default=None, description="Fixed STORAGE_AWS_EXTERNAL_ID of the integration (keeps the IAM trust stable)."
    )
    timestamp_column: str = Field(
        default="_dms_ts", description="DMS TimestampColumnName: commit (CDC) or write (full load) time."
    )
    change_seq_column: str = Field(
        default="_dms_change_seq", description="Last column of CDC files: DMS $AR_H_CHANGE_SEQ (35 digits)."
    )
    checkpoint_store: Literal["lake", "warehouse"] = Field(
        default="lake",
        description="Where CDC checkpoints live: a JSON object in the lake (_sqlfleet/checkpoints/) or a "
        "warehouse table (_sqlfleet.checkpoints, DuckDB).",
    )
    database_concurrency: int = Field(
        default=16,
        ge=1,
        le=512,
        description="Databases in flight at once in one flow run (started, not finished); the Prefect limits "
        "bound replication per instance and loads across runs.",
    )
    limit_lease_seconds: float = Field(
        default=300.0,
        ge=60,
        le=86_400,
        description="Lease of a held concurrency slot, renewed while held: a crashed run frees its slots after it.",
    )
    progress_every_seconds: float = Field(
        default=10.0, gt=0, description="How often the fleet table artifact is refreshed during a run."
    )
    local_workers: int = Field(
        default_factory=_default_workers,
        ge=1,
        le=64,
        description="Embedded engine: tables extracted at once across the whole process.",
    )
    max_file_size_kb: int = Field(
        default=1_048_576,
        ge=1,
        le=1_048_576,
        description="A new LOAD file starts past this size (DMS MaxFileSize).",
    )
    batch_rows: int = Field(default=100_000, ge=1_000, description="Rows per record batch read from a source.")
    task_deadline_seconds: float = Field(default=6 * 3600, gt=0, description="Longest wait for one task.")
    poll_interval_seconds: float = Field(default=0.5, gt=0, description="Replication task polling interval.")
    enabled_variable: str = Field(
        default="sqlfleet_enabled",
        description="Prefect Variable holding {database: true|false} overrides of the catalog's 'enabled'.",
    )
    engine_tasks_per_instance: int = Field(
        default=4, ge=1, le=200, description="Replication tasks running at once per instance (a Prefect limit)."
    )
    warehouse_loads: int = Field(default=4, ge=1, le=256, description="Database loads at once (a Prefect limit).")
    alert_block: str | None = Field(
        default=None,
        description="Notification block for alerts: '<block-type-slug>/<name>' ('slack-webhook/sqlfleet-alerts').",
    )
    # --- AWS (provisioning with `sqlfleet aws plan|apply` and the DMS engine) ---
    aws_region: str | None = Field(default=None, description="Region of DMS and the lake bucket; None: AWS chain.")
    aws_endpoint_url: str | None = Field(
        default=None, description="One endpoint for every AWS client (moto, LocalStack); None for AWS itself."
    )
    dms_endpoint_strategy: Literal["per-database-endpoint", "shared-endpoint"] = Field(
        default="per-database-endpoint",
        description="S3 target endpoint per database (2 endpoints each), or one shared per instance (DESIGN.md).",
    )
    dms_modes_per_database: int = Field(
        default=2, ge=1, le=3, description="DMS tasks per database counted against quotas (full-load + cdc)."
    )
    dms_instance_prefix: str = Field(default="sqlfleet", description="Replication instances are <prefix>-01, ...")
    dms_instance_count: int | None = Field(
        default=None, ge=1, le=60, description="Exactly this many replication instances; None: as many as needed."
    )
    dms_instance_class: str = Field(default="dms.r5.xlarge", description="ReplicationInstanceClass of new instances.")
    dms_allocated_storage_gb: int = Field(default=100, ge=5, le=6144, description="Storage of new instances (GB).")
    dms_subnet_group: str = Field(default="sqlfleet", description="Replication subnet group identifier.")
    dms_subnet_ids: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), description="Subnets of the replication subnet group (comma-separated), in 2+ AZs."
    )
    dms_security_group_ids: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), description="VPC security groups of new replication instances (comma-separated)."
    )
    dms_service_role_name: str = Field(
        default="sqlfleet-dms-s3", description="IAM role DMS assumes to write the lake (and read source secrets)."
    )
    # --- the DMS engine (SQLFLEET_ENGINE=dms); the DMS API allows ~4-8 requests/s per account ---
    dms_poll_interval_seconds: float = Field(
        default=15.0, gt=0, description="DMS engine: seconds between task polls (one call per instance per poll)."
    )
    dms_api_requests_per_second: float = Field(
        default=4.0, gt=0, le=50, description="DMS engine: API calls per second this process makes at most."
    )
    dms_api_burst: int = Field(default=20, ge=1, le=200, description="DMS engine: API calls allowed in a burst.")
    dms_wait_deadline_seconds: float = Field(
        default=900.0, gt=0, description="DMS engine: longest wait for a task to settle or a connection test."
    )

    @field_validator("dms_subnet_ids", "dms_security_group_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("lake_url")
    @classmethod
    def _check_lake_url(cls, value: str) -> str:
        scheme = urlparse(value).scheme
        if scheme not in {"file", "s3"}:
            raise ValueError(f"lake_url must start with file:// or s3://, got {value!r}")
        return value

    @field_validator("warehouse_url")
    @classmethod
    def _check_warehouse_url(cls, value: str) -> str:
        from sqlfleet.warehouse_url import parse_snowflake_url, warehouse_kind

        if warehouse_kind(value) == "snowflake":
            parse_snowflake_url(value)
        return value

    @field_validator("enabled_variable")
    @classmethod
    def _check_variable(cls, value: str) -> str:
        if not value or any(not (c.islower() or c.isdigit() or c in "-_") for c in value):
            raise ValueError("enabled_variable may hold only lowercase letters, digits, '-' and '_'")
        return value

    def warehouse_path(self) -> Path:
        """Filesystem path of the DuckDB warehouse file."""
        return path_from_url(self.warehouse_url, "duckdb")


def path_from_url(url: str, scheme: str) -> Path:
    """``file://./x`` / ``duckdb:///abs`` / ``sqlite:///rel`` to a path (``//./`` and ``///rel`` are relative)."""
    prefix = f"{scheme}://"
    if not url.startswith(prefix):
        raise ValueError(f"expected a {prefix} URL, got {url!r}")
    rest = url[len(prefix) :]
    # sqlite:///relative/x.db (SQLAlchemy style: 3 slashes relative, 4 absolute) and file://./x
    if rest.startswith("//"):
        return Path(rest[1:])
    if rest.startswith("/") and scheme != "file":
        return Path(rest[1:])
    return Path(rest)

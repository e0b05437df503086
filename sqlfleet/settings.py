"""Runtime settings: one pydantic-settings root, built at the entry point (never at import time).

Every field can be set from the environment with the ``SQLFLEET_`` prefix, e.g.
``SQLFLEET_LAKE_URL=s3://my-bucket/lake`` or ``SQLFLEET_WAREHOUSE_URL=duckdb:///tmp/w.duckdb``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

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
    warehouse_url: str = Field(default="duckdb:///./data/warehouse.duckdb", description="duckdb:///<path>.")
    timestamp_column: str = Field(
        default="_dms_ts", description="DMS TimestampColumnName: commit (CDC) or write (full load) time."
    )
    database_concurrency: int = Field(default=4, ge=1, le=512, description="Databases processed at once.")
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
        if not value.startswith("duckdb://"):
            raise ValueError(f"warehouse_url must be duckdb:///<path> for now, got {value!r}")
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

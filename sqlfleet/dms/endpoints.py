"""Settings of DMS endpoints: the S3 Parquet target and the SQL Server source (pure).

The returned dicts are the ``S3Settings`` / ``MicrosoftSQLServerSettings`` arguments of
``CreateEndpoint`` (reference/dms.md §1.1, §6).
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

from pydantic import SecretStr

from sqlfleet.catalog import DatabaseEntry
from sqlfleet.errors import ConfigError

# Never set on an S3 target here (reference/dms.md §1.1, §9): CdcPath + PreserveTransactions
# write one transaction-ordered CSV stream for all tables instead of per-table parquet.
FORBIDDEN_S3_KEYS = frozenset({"CdcPath", "PreserveTransactions"})
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$")
_SECRET_ARN = re.compile(r"^arn:aws[a-z-]*:secretsmanager:")
_MSSQL_PORT = 1433


class EndpointSettings(dict[str, object]):
    """A settings dict whose ``repr``/``str`` hide the ``Password`` value (boto3 needs it plain)."""

    def __repr__(self) -> str:
        return repr({k: ("**********" if k == "Password" else v) for k, v in self.items()})

    __str__ = __repr__


def s3_target_settings(
    *,
    bucket: str,
    bucket_folder: str,
    service_access_role_arn: str,
    timestamp_column: str = "_dms_ts",
    cdc_max_batch_interval: int = 60,
    cdc_min_file_size_kb: int = 32000,
    max_file_size_kb: int | None = None,
) -> dict[str, object]:
    """``S3Settings`` of a Parquet target writing under ``bucket/bucket_folder`` (``""``: the
    bucket's root; build the folder with ``layout.bucket_folder``)."""
    problems = []
    if not _BUCKET.match(bucket) or ".." in bucket:
        problems.append(f"bucket {bucket!r} is not a valid S3 bucket name")
    if bucket_folder != bucket_folder.strip("/") or "//" in bucket_folder:
        problems.append(f"bucket folder {bucket_folder!r} must not start or end with '/' or hold '//'")
    if not _ROLE_ARN.match(service_access_role_arn):
        problems.append(f"service access role {service_access_role_arn!r} is not an IAM role ARN")
    if not timestamp_column:
        problems.append("timestamp column name is empty")
    if cdc_max_batch_interval < 1 or cdc_min_file_size_kb < 1:
        problems.append("CdcMaxBatchInterval and CdcMinFileSize must be positive")
    if max_file_size_kb is not None and not 1 <= max_file_size_kb <= 1_048_576:
        problems.append(f"MaxFileSize must be 1..1048576 KB, got {max_file_size_kb}")
    if problems:
        raise ConfigError("S3 target endpoint: " + "; ".join(problems))
    settings: dict[str, object] = {"BucketName": bucket}
    if bucket_folder:
        settings["BucketFolder"] = bucket_folder
    settings |= {
        "ServiceAccessRoleArn": service_access_role_arn,
        "DataFormat": "parquet",
        "ParquetVersion": "parquet-2-0",
        # Microseconds (the default, made explicit): only Athena/Glue need milliseconds.
        "ParquetTimestampInMillisecond": False,
        # Full-load files get Op='I' too, so LOAD and CDC files share one schema (DMS >= 3.4.7).
        "IncludeOpForFullLoad": True,
        "TimestampColumnName": timestamp_column,
        # Full-load rows carry the task start time instead of their write time, so they sort
        # before every change captured during the load when deduplicating by timestamp.
        "UseTaskStartTimeForFullLoadTimestamp": True,
        # No date folders: the layout is <table>/<file>; CDC files are named by time anyway.
        "DatePartitionEnabled": False,
        # A CDC file is flushed at whichever limit comes first: fewer, larger files per table.
        "CdcMaxBatchInterval": cdc_max_batch_interval,
        "CdcMinFileSize": cdc_min_file_size_kb,
    }
    if max_file_size_kb is not None:
        settings["MaxFileSize"] = max_file_size_kb
    return settings


def sqlserver_source_settings(
    entry: DatabaseEntry,
    *,
    secrets_manager_secret_id: str | None = None,
    secrets_manager_access_role_arn: str | None = None,
    password: SecretStr | None = None,
) -> dict[str, object]:
    """``MicrosoftSQLServerSettings`` of ``entry``'s mssql source.

    Credentials come either from Secrets Manager (the secret holds username, password, host and
    port; DMS refuses clear-text ServerName/Port/Username/Password next to it) or from the
    catalog's username plus ``password``. A catalog ``password_secret`` that is a Secrets Manager
    ARN is used as the secret when neither is given. The result's ``repr`` hides the password.
    """
    if entry.source_kind != "mssql":
        raise ConfigError(f"database {entry.name}: DMS needs an mssql:// source, got {entry.source!r}")
    url = urlsplit(entry.source)
    database = unquote(url.path.lstrip("/"))
    catalog_secret = entry.credentials.password_secret if entry.credentials else None
    secret_id = secrets_manager_secret_id
    if secret_id is None and password is None and catalog_secret and _SECRET_ARN.match(catalog_secret):
        secret_id = catalog_secret
    if secret_id is not None and password is not None:
        raise ConfigError(f"database {entry.name}: give a Secrets Manager secret or a password, not both")
    if secret_id is not None:
        if not secrets_manager_access_role_arn or not _ROLE_ARN.match(secrets_manager_access_role_arn):
            raise ConfigError(
                f"database {entry.name}: a Secrets Manager secret needs the ARN of a role DMS assumes to read it"
            )
        return EndpointSettings(
            DatabaseName=database,
            SecretsManagerSecretId=secret_id,
            SecretsManagerAccessRoleArn=secrets_manager_access_role_arn,
        )
    if password is None:
        raise ConfigError(
            f"database {entry.name}: no credentials: set credentials.password_secret to a Secrets Manager "
            "ARN, or resolve the password (SecretStr) before building the endpoint"
        )
    if entry.credentials is None:
        raise ConfigError(f"database {entry.name}: a password needs credentials.username in the catalog")
    return EndpointSettings(
        ServerName=url.hostname,
        Port=url.port or _MSSQL_PORT,
        DatabaseName=database,
        Username=entry.credentials.username,
        Password=password.get_secret_value(),
    )

"""Building the DMS engine of a fleet run from the settings (``SQLFLEET_ENGINE=dms``).

One DMS client and one API token bucket per process, shared by every engine and thread. The
databases' replication instances come from the same sticky placement ``sqlfleet aws plan``
computes: a database whose tasks exist stays on their instance; a new one goes to the instance
with the most room; an instance that does not exist yet fails the database with "run
``sqlfleet aws apply``".
"""

from __future__ import annotations

import threading

import boto3
from pydantic import SecretStr

from sqlfleet.aws.clients import AwsClients
from sqlfleet.aws.desired import lake_location, role_arn
from sqlfleet.aws.read import read_existing_placement, read_identity, read_quotas
from sqlfleet.catalog import load_catalog
from sqlfleet.dms.names import instance_identifier
from sqlfleet.dms.placement import place_databases
from sqlfleet.engines.dms import DmsEngine
from sqlfleet.engines.dms_api import RETRY_CONFIG, shared_dms_client
from sqlfleet.errors import ConfigError
from sqlfleet.pacing import TokenBucket
from sqlfleet.settings import Settings

_buckets_lock = threading.Lock()
_buckets: dict[tuple[float, int], TokenBucket] = {}


def shared_pacing(rate_per_second: float, burst: int) -> TokenBucket:
    """The process's DMS API token bucket (one per rate, in practice one)."""
    with _buckets_lock:
        return _buckets.setdefault((rate_per_second, burst), TokenBucket(rate_per_second, burst))


def prefect_secret_password(name: str) -> SecretStr:
    """The password in Prefect Secret block ``name`` (a catalog ``password_secret`` that is not an ARN)."""
    from prefect.blocks.system import Secret

    try:
        value = Secret.load(name).get()  # type: ignore[union-attr]
    except Exception as exc:
        raise ConfigError(f"cannot read the Prefect Secret block {name!r}: {type(exc).__name__}") from None
    if not isinstance(value, str):
        raise ConfigError(f"the Prefect Secret block {name!r} must hold the password as a string")
    return SecretStr(value)


def open_dms_engine(settings: Settings) -> DmsEngine:
    """The DMS engine for the catalog in the settings, its databases placed on instances."""
    region = settings.aws_region or settings.lake_region or boto3.session.Session().region_name
    if not region:
        raise ConfigError("no AWS region: set SQLFLEET_AWS_REGION (or AWS_REGION)")
    bucket, prefix = lake_location(settings.lake_url)
    entries = load_catalog(settings.catalog_path, check_sources=False).databases
    client = shared_dms_client(region, settings.aws_endpoint_url)
    sts = boto3.session.Session().client(
        "sts", region_name=region, endpoint_url=settings.aws_endpoint_url, config=RETRY_CONFIG
    )
    clients = AwsClients(region=region, s3=None, iam=None, dms=client, sts=sts)
    account, partition = read_identity(clients)
    quotas, _warnings = read_quotas(clients)
    names = [e.name for e in entries]
    count = settings.dms_instance_count
    placement = place_databases(
        names,
        strategy=settings.dms_endpoint_strategy,
        modes_per_database=settings.dms_modes_per_database,
        quotas=quotas,
        existing=read_existing_placement(clients, names),
        instances=[instance_identifier(i, settings.dms_instance_prefix) for i in range(1, count + 1)]
        if count
        else None,
        instance_prefix=settings.dms_instance_prefix,
    )
    return DmsEngine(
        client,
        entries={e.name: e for e in entries},
        instance_for=placement.instance_of,
        lake_bucket=bucket,
        lake_prefix=prefix,
        service_role_arn=role_arn(partition, account, settings.dms_service_role_name),
        password_for=prefect_secret_password,
        strategy=settings.dms_endpoint_strategy,
        pacing=shared_pacing(settings.dms_api_requests_per_second, settings.dms_api_burst),
        poll_interval_seconds=settings.dms_poll_interval_seconds,
        wait_deadline_seconds=settings.dms_wait_deadline_seconds,
    )

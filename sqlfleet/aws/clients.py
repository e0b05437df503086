"""AWS clients and error translation shared by sqlfleet's AWS adapters.

One client per service per process, adaptive retries (DMS throttles at ~4-8 requests/s and the
limit cannot be raised, reference/dms.md §5), and one place where boto errors become the
project's errors: throttling and 5xx ``TransientError`` (after botocore's retries), access and
credential problems ``ConfigError``, anything else ``TerminalError``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from sqlfleet.errors import ConfigError, SqlfleetError, TerminalError, TransientError
from sqlfleet.settings import Settings

_ACCESS = {"AccessDenied", "AccessDeniedException", "AccessDeniedFault", "UnauthorizedOperation"}
_CREDENTIALS = {"InvalidClientTokenId", "ExpiredToken", "UnrecognizedClientException", "SignatureDoesNotMatch"}
_THROTTLE = {"Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException", "SlowDown"}


def client_config(*, total_max_attempts: int | None = None) -> Config:
    """Adaptive retries (DMS throttles at ~4-8 requests/s, reference/dms.md §5); tests pass
    ``total_max_attempts=1`` so unimplemented moto operations fail at once."""
    if total_max_attempts is not None:
        return Config(retries={"mode": "adaptive", "total_max_attempts": total_max_attempts})
    return Config(retries={"mode": "adaptive", "max_attempts": 10})


@dataclass(frozen=True)
class AwsClients:
    """One client per service, shared by every call of a command."""

    region: str
    s3: Any
    iam: Any
    dms: Any
    sts: Any


def make_clients(settings: Settings, *, total_max_attempts: int | None = None) -> AwsClients:
    """Clients for the settings' region and endpoint (``aws_endpoint_url`` for moto/LocalStack)."""
    session = boto3.session.Session(region_name=settings.aws_region or settings.lake_region)
    region = session.region_name
    if not region:
        raise ConfigError("no AWS region: set SQLFLEET_AWS_REGION (or AWS_REGION)")
    config = client_config(total_max_attempts=total_max_attempts)

    def client(service: str) -> Any:
        return session.client(service, endpoint_url=settings.aws_endpoint_url, config=config)

    return AwsClients(region=region, s3=client("s3"), iam=client("iam"), dms=client("dms"), sts=client("sts"))


def translate_aws_error(exc: ClientError | BotoCoreError, doing: str) -> SqlfleetError:
    """The project error for a boto error raised while ``doing``."""
    if isinstance(exc, BotoCoreError):
        return TransientError(f"{doing}: {exc}")
    error = exc.response.get("Error", {})
    code, message = str(error.get("Code", "")), str(error.get("Message", ""))
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    text = f"{doing}: {code}: {message}"
    if code in _THROTTLE or status >= 500:
        return TransientError(text)
    if code in _ACCESS:
        return ConfigError(f"{text} (the AWS identity running sqlfleet needs this permission)")
    if code in _CREDENTIALS:
        return ConfigError(f"{text} (check the AWS credentials)")
    return TerminalError(text)


@contextmanager
def aws_call(doing: str) -> Iterator[None]:
    """Translate boto errors raised while ``doing`` into the project's error tree."""
    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        raise translate_aws_error(exc, doing) from exc


def error_code(exc: ClientError) -> str:
    """The AWS error code of ``exc`` (``ResourceNotFoundFault``, ``NoSuchEntity``, ``404``...)."""
    return str(exc.response.get("Error", {}).get("Code", ""))

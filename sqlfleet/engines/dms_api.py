"""The one door to the AWS DMS API: one shared client, pacing, error translation, pagination.

Every DMS call of the project goes through ``DmsApi.call``: it takes a token from the
process-wide ``TokenBucket`` (the DMS API allows ~4-8 requests/s per account, not raisable),
lets botocore's adaptive retry mode absorb throttling, and translates whatever still fails into
the project's errors exactly once (``translate_error``). ``DmsApi.pages`` follows ``Marker``
itself (boto3's paginators stop silently where a server forgets the marker) with a page cap,
so a listing always ends.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ParamValidationError,
    ReadTimeoutError,
)

from sqlfleet.errors import ConfigError, ReplicationError, SqlfleetError, TransientError
from sqlfleet.pacing import TokenBucket

#: Adaptive retries: exponential backoff with jitter on throttling plus client-side rate
#: limiting once throttled; the explicit mode matters because botocore's default is ``standard``.
RETRY_CONFIG = Config(retries={"mode": "adaptive", "max_attempts": 10}, connect_timeout=10, read_timeout=60)

_THROTTLING = frozenset(
    {"ThrottlingException", "Throttling", "RequestLimitExceeded", "TooManyRequestsException", "RequestThrottled"}
)
_TRANSIENT = frozenset({"InternalFailure", "InternalServerError", "ServiceUnavailable", "RequestTimeout"})
_REJECTED = frozenset(
    {
        "AccessDeniedFault",
        "AccessDeniedException",
        "InvalidParameterValueException",
        "InvalidParameterCombinationException",
        "KMSKeyNotAccessibleFault",
        "KMSAccessDeniedFault",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "ExpiredTokenException",
    }
)


class DmsNotFoundError(ReplicationError):
    """``ResourceNotFoundFault``: the task, endpoint or instance does not exist (or a filter matched nothing)."""


class DmsInvalidStateError(ReplicationError):
    """``InvalidResourceStateFault``: the resource is in a state that does not allow the call."""


class DmsAlreadyExistsError(ReplicationError):
    """``ResourceAlreadyExistsFault``: an identifier is taken (often a concurrent create)."""


class DmsQuotaError(ReplicationError):
    """``ResourceQuotaExceededFault`` and friends: an account or instance quota is full."""


class DmsRequestRejectedError(ConfigError):
    """The request itself was refused (permissions, parameters, credentials): fix the setup."""


def translate_error(exc: Exception, doing: str) -> SqlfleetError:
    """The one place botocore exceptions become the project's errors, typed by what the caller does next."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "Unknown"))
        text = f"{doing}: {code}: {error.get('Message', '')}".rstrip(": ")
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        if code in _THROTTLING or code in _TRANSIENT or status >= 500:
            return TransientError(text)
        if code == "ResourceNotFoundFault":
            return DmsNotFoundError(text)
        if code == "InvalidResourceStateFault":
            return DmsInvalidStateError(text)
        if code == "ResourceAlreadyExistsFault":
            return DmsAlreadyExistsError(text)
        if code.endswith("QuotaExceededFault"):
            return DmsQuotaError(text)
        if code in _REJECTED:
            return DmsRequestRejectedError(text)
        return ReplicationError(text)
    if isinstance(exc, EndpointConnectionError | ConnectTimeoutError | ReadTimeoutError | ConnectionClosedError):
        return TransientError(f"{doing}: {exc}")
    if isinstance(exc, ParamValidationError):
        return DmsRequestRejectedError(f"{doing}: {exc}")
    if isinstance(exc, BotoCoreError):
        return ReplicationError(f"{doing}: {exc}")
    return ReplicationError(f"{doing}: {type(exc).__name__}: {exc}")


_clients_lock = threading.Lock()
_clients: dict[tuple[str | None, str | None], Any] = {}


def shared_dms_client(region: str | None, endpoint_url: str | None = None) -> Any:
    """The process's DMS client for ``(region, endpoint_url)``, created on first use.

    boto3 clients are thread-safe (sessions are not), so every thread and every engine of the
    process shares one client, and with it one adaptive-retry rate limiter.
    """
    key = (region, endpoint_url)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = boto3.session.Session().client(
                "dms", region_name=region, endpoint_url=endpoint_url, config=RETRY_CONFIG
            )
            _clients[key] = client
        return client


class DmsApi:
    """Paced, translated calls on one DMS client."""

    def __init__(self, client: Any, pacing: TokenBucket | None = None, *, pacing_deadline_seconds: float = 300) -> None:
        self.client = client
        self.pacing = pacing
        self.pacing_deadline = pacing_deadline_seconds

    def call(self, operation: str, **params: Any) -> dict[str, Any]:
        """Call ``operation`` (boto3 method name, e.g. ``describe_endpoints``) with ``params``."""
        if self.pacing is not None:
            self.pacing.acquire(self.pacing_deadline)
        try:
            response: dict[str, Any] = getattr(self.client, operation)(**params)
        except (ClientError, BotoCoreError) as exc:
            raise translate_error(exc, operation) from exc
        return response

    def pages(
        self, operation: str, result_key: str, *, missing_ok: bool = True, max_pages: int = 1000, **params: Any
    ) -> Iterator[dict[str, Any]]:
        """Every item of a ``Marker``-paginated describe call.

        DMS answers a filter that matches nothing with ``ResourceNotFoundFault``; with
        ``missing_ok`` that is an empty listing.
        """
        marker: str | None = None
        seen: set[str] = set()
        for _ in range(max_pages):
            page_params = dict(params)
            if marker is not None:
                page_params["Marker"] = marker
            try:
                page = self.call(operation, **page_params)
            except DmsNotFoundError:
                if missing_ok and marker is None:
                    return
                raise
            yield from page.get(result_key, [])
            marker = page.get("Marker") or None
            if marker is None:
                return
            if marker in seen:
                raise ReplicationError(f"{operation}: the server repeated pagination marker {marker!r}")
            seen.add(marker)
        raise ReplicationError(f"{operation}: more than {max_pages} pages; giving up")

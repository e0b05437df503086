"""Resources, faults and describe helpers of the fake DMS (a test double; see ``fake_dms``).

Shapes and names follow the botocore DMS service model (reference/dms.md §4): describe calls
take ``Filters`` (unknown names are refused), ``MaxRecords`` within the documented bounds and an
opaque ``Marker``; a filter that matches nothing raises ``ResourceNotFoundFault``.
"""

from __future__ import annotations

import base64
import random
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlfleet.engines.base import TableState

Clock = Callable[[], datetime]
#: CreateReplicationTask / CreateEndpoint identifier rule.
IDENTIFIER = re.compile(r"^[A-Za-z](?:[A-Za-z0-9]|-(?!-)){0,254}(?<!-)$")


class FakeDmsError(Exception):
    """A DMS error response: HTTP ``status`` with ``{"__type": code, "message": message}``."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


def utc_now() -> datetime:
    """The fake's default clock (aware UTC)."""
    return datetime.now(UTC)


def epoch(value: datetime | None) -> float | None:
    """A timestamp as the DMS JSON protocol sends it (epoch seconds)."""
    return None if value is None else value.timestamp()


class ArnMaker:
    """ARNs with random-looking 26-character ids, as real DMS makes them; seeded, so repeatable."""

    def __init__(self, region: str, account: str, seed: int = 7) -> None:
        self.prefix = f"arn:aws:dms:{region}:{account}"
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def make(self, kind: str) -> str:
        """``arn:aws:dms:<region>:<account>:<kind>:<ID>`` (kinds: ``rep``, ``endpoint``, ``task``, ``subgrp``)."""
        with self._lock:
            ident = "".join(self._rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(26))
        return f"{self.prefix}:{kind}:{ident}"


def check_identifier(value: object, what: str) -> str:
    """An identifier that follows the DMS rules, or ``InvalidParameterValueException``."""
    if not isinstance(value, str) or not IDENTIFIER.match(value):
        raise FakeDmsError(
            "InvalidParameterValueException",
            f"{what} must begin with a letter, contain only ASCII letters, digits and hyphens, "
            f"not end with a hyphen or contain two consecutive hyphens: {value!r}",
        )
    return value


def require(params: Mapping[str, Any], *names: str) -> None:
    """``InvalidParameterValueException`` naming the first missing required parameter."""
    for name in names:
        if params.get(name) in (None, ""):
            raise FakeDmsError("InvalidParameterValueException", f"{name} is required")


def apply_filters(
    items: Sequence[Any],
    params: Mapping[str, Any],
    getters: Mapping[str, Callable[[Any], str | tuple[str, ...]]],
    what: str,
) -> list[Any]:
    """Items matching every filter (values of one filter OR together); unknown names are refused.

    A getter returns one value or several (a task's ``endpoint-arn`` is its source and target).
    """
    chosen = list(items)
    filters = params.get("Filters") or []
    for item in filters:
        name = item.get("Name")
        if name not in getters:
            raise FakeDmsError(
                "InvalidParameterValueException",
                f"Invalid filter name {name!r}; valid names: {', '.join(sorted(getters))}",
            )
        values = set(item.get("Values") or [])
        chosen = [x for x in chosen if values & _as_set(getters[name](x))]
    if filters and not chosen:
        raise FakeDmsError("ResourceNotFoundFault", f"No {what} found matching the filters")
    return chosen


def _as_set(value: str | tuple[str, ...]) -> set[str]:
    return {value} if isinstance(value, str) else set(value)


def paginate(
    items: Sequence[dict[str, Any]],
    params: Mapping[str, Any],
    key: str,
    *,
    default: int = 100,
    minimum: int = 20,
    maximum: int = 100,
) -> dict[str, Any]:
    """One page of ``items`` per ``MaxRecords`` and ``Marker``; a ``Marker`` when more remain."""
    size = params.get("MaxRecords", default)
    if not isinstance(size, int) or not minimum <= size <= maximum:
        raise FakeDmsError("InvalidParameterValueException", f"MaxRecords must be between {minimum} and {maximum}")
    offset = 0
    marker = params.get("Marker")
    if marker:
        try:
            tag, _, number = base64.urlsafe_b64decode(str(marker).encode()).decode().partition(":")
            offset = int(number)
        except (ValueError, UnicodeDecodeError):
            raise FakeDmsError("InvalidParameterValueException", f"Invalid Marker {marker!r}") from None
        if tag != key:
            raise FakeDmsError("InvalidParameterValueException", f"Marker {marker!r} belongs to another listing")
    out: dict[str, Any] = {key: list(items[offset : offset + size])}
    if offset + size < len(items):
        out["Marker"] = base64.urlsafe_b64encode(f"{key}:{offset + size}".encode()).decode()
    return out


@dataclass
class Instance:
    """A replication instance: ``creating`` until described once, then ``available``."""

    arn: str
    identifier: str
    instance_class: str
    allocated_storage: int
    subnet_group: str | None
    created: datetime
    status: str = "creating"
    extra: dict[str, Any] = field(default_factory=dict)

    def to_api(self) -> dict[str, Any]:
        """The ``ReplicationInstance`` shape."""
        return {
            "ReplicationInstanceIdentifier": self.identifier,
            "ReplicationInstanceArn": self.arn,
            "ReplicationInstanceClass": self.instance_class,
            "ReplicationInstanceStatus": self.status,
            "AllocatedStorage": self.allocated_storage,
            "InstanceCreateTime": epoch(self.created),
            "ReplicationSubnetGroup": {"ReplicationSubnetGroupIdentifier": self.subnet_group or "default"},
            **self.extra,
        }


@dataclass
class Endpoint:
    """An endpoint; ``settings`` holds every field as DMS stores it (``Password`` never echoed)."""

    arn: str
    identifier: str
    endpoint_type: str
    engine: str
    settings: dict[str, Any]
    status: str = "active"

    def to_api(self) -> dict[str, Any]:
        """The ``Endpoint`` shape."""
        shown = {k: v for k, v in self.settings.items() if k not in {"Password", "Tags"}}
        return {
            "EndpointIdentifier": self.identifier,
            "EndpointArn": self.arn,
            "EndpointType": self.endpoint_type.upper(),
            "EngineName": self.engine,
            "EngineDisplayName": {"s3": "Amazon S3", "sqlserver": "Microsoft SQL Server"}.get(self.engine, self.engine),
            "Status": self.status,
            **shown,
        }


@dataclass
class Connection:
    """The result of ``TestConnection`` for one instance and endpoint."""

    instance: Instance
    endpoint: Endpoint
    status: str
    result: str
    failure: str | None
    polls_left: int

    def to_api(self) -> dict[str, Any]:
        """The ``Connection`` shape."""
        out = {
            "ReplicationInstanceArn": self.instance.arn,
            "ReplicationInstanceIdentifier": self.instance.identifier,
            "EndpointArn": self.endpoint.arn,
            "EndpointIdentifier": self.endpoint.identifier,
            "Status": self.status,
        }
        if self.status == "failed" and self.failure:
            out["LastFailureMessage"] = self.failure
        return out


@dataclass
class TableStat:
    """One row of ``DescribeTableStatistics``."""

    schema: str
    table: str
    state: TableState = "Before load"
    full_load_rows: int = 0
    inserts: int = 0
    updates: int = 0
    deletes: int = 0
    started: datetime | None = None
    ended: datetime | None = None
    updated: datetime | None = None
    reloaded: bool = False

    def to_api(self) -> dict[str, Any]:
        """The ``TableStatistics`` shape."""
        out: dict[str, Any] = {
            "SchemaName": self.schema,
            "TableName": self.table,
            "Inserts": self.inserts,
            "Deletes": self.deletes,
            "Updates": self.updates,
            "Ddls": 0,
            "FullLoadRows": self.full_load_rows,
            "FullLoadCondtnlChkFailedRows": 0,
            "FullLoadErrorRows": 0,
            "FullLoadReloaded": self.reloaded,
            "TableState": self.state,
            "ValidationState": "Not enabled",
        }
        for name, value in (("FullLoadStartTime", self.started), ("FullLoadEndTime", self.ended)):
            if value is not None:
                out[name] = epoch(value)
        out["LastUpdateTime"] = epoch(self.updated or self.started)
        return out

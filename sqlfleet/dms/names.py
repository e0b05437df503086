"""Identifiers of DMS resources, deterministic per database and mode.

DMS identifiers must be 1-255 letters, digits and hyphens, start with a letter, and contain
neither two consecutive hyphens nor a trailing hyphen (CreateReplicationTask API).
"""

from __future__ import annotations

import hashlib
import re
from typing import Literal

from sqlfleet.engines.base import MigrationType

_MODE_SUFFIX: dict[MigrationType, str] = {"full-load": "full", "cdc": "cdc", "full-load-and-cdc": "fullcdc"}
_MAX = 255


def dms_identifier(*parts: str) -> str:
    """Join parts into a valid DMS identifier; a short hash keeps mangled names distinct."""
    raw = "-".join(parts)
    cleaned = re.sub(r"[^A-Za-z0-9]+", "-", raw).strip("-")
    cleaned = re.sub(r"-{2,}", "-", cleaned).lower()
    if not cleaned or not cleaned[0].isalpha():
        cleaned = f"db-{cleaned}".rstrip("-")
    if cleaned != raw.lower() or len(cleaned) > _MAX:
        digest = hashlib.sha256(raw.encode()).hexdigest()[:6]
        cleaned = f"{cleaned[: _MAX - 7]}-{digest}"
    return cleaned[:_MAX]


def task_identifier(database: str, migration_type: MigrationType) -> str:
    """``<database>-full`` / ``<database>-cdc``: one task per database and migration type."""
    return dms_identifier(database, _MODE_SUFFIX[migration_type])


EndpointRole = Literal["source", "target"]
_INSTANCE_MAX = 63  # ReplicationInstanceIdentifier: 1-63 characters (CreateReplicationInstance API)


def endpoint_identifier(database: str, role: EndpointRole) -> str:
    """``<database>-source`` / ``<database>-target``: a database's own endpoints."""
    if role not in ("source", "target"):
        raise ValueError(f"endpoint role must be 'source' or 'target', got {role!r}")
    return dms_identifier(database, role)


def shared_target_endpoint_identifier(instance: str) -> str:
    """``<instance>-lake``: the S3 target endpoint shared by the databases of one instance.

    A database's endpoint identifier ends in ``-source``, ``-target`` or a 6-digit hash, never in
    ``-lake``, so the two kinds cannot collide whatever the database is called.
    """
    return dms_identifier(instance, "lake")


def instance_identifier(index: int, prefix: str = "sqlfleet") -> str:
    """``<prefix>-01``, ``<prefix>-02``, ...: the fleet's replication instances, numbered from 1."""
    if not 1 <= index <= 999:
        raise ValueError(f"replication instance index must be 1..999, got {index}")
    ident = dms_identifier(prefix, f"{index:02d}")
    if len(ident) > _INSTANCE_MAX:
        raise ValueError(f"instance prefix {prefix!r} is too long: {ident!r} exceeds {_INSTANCE_MAX} characters")
    return ident

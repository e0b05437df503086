"""Identifiers of DMS resources, deterministic per database and mode.

DMS identifiers must be 1-255 letters, digits and hyphens, start with a letter, and contain
neither two consecutive hyphens nor a trailing hyphen (CreateReplicationTask API).
"""

from __future__ import annotations

import hashlib
import re

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

"""Planning inputs and bookkeeping: the history of earlier runs, the sources' sizes."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from prefect import task
from prefect.cache_policies import NO_CACHE

from sqlfleet.catalog import DatabaseEntry
from sqlfleet.engines.base import MigrationType
from sqlfleet.history import LakeHistory
from sqlfleet.lake import Lake
from sqlfleet.schedule import HistoryEntry


@task(name="read-history", cache_policy=NO_CACHE)
def read_history(lake: Lake, databases: Sequence[str], mode: MigrationType) -> dict[str, HistoryEntry]:
    """The typical earlier run of each database in ``mode`` (databases without history are absent)."""
    return LakeHistory(lake).typical(databases, mode)


@task(name="read-source-sizes", cache_policy=NO_CACHE)
def read_source_sizes(entries: Sequence[DatabaseEntry]) -> dict[str, int | None]:
    """Each source's size in bytes: the catalog's ``size_mb`` when stated (the user's word wins),
    else the SQLite file's size, else ``None`` (an mssql source is not contacted to plan)."""
    sizes: dict[str, int | None] = {}
    for entry in entries:
        size = entry.size_hint_bytes
        if size is None and entry.source_kind == "sqlite":
            try:
                size = os.stat(entry.sqlite_path).st_size
            except OSError:
                size = None
        sizes[entry.name] = size
    return sizes


@task(name="record-history", cache_policy=NO_CACHE)
def record_history(lake: Lake, runs: Mapping[str, HistoryEntry], mode: MigrationType) -> int:
    """Add this run's replications to each database's history; returns how many were written."""
    history = LakeHistory(lake)
    for database, entry in runs.items():
        history.append(database, mode, entry)
    return len(runs)

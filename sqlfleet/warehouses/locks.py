"""One writer per warehouse table at a time, across the threads of a process.

Snowflake serialises UPDATE/DELETE/MERGE on a table with a table lock, queues at most 20
statements on it and then fails them (error 000625, reference/snowflake.md §1.8); DuckDB
conflicts on concurrent writes to one table. A lock per target keeps this process from
queueing a second MERGE behind the first; waiting has a deadline.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from sqlfleet.errors import TransientError


class TargetLocks:
    """A lock per ``(database, target)``, created on first use and acquired with a deadline."""

    def __init__(self, timeout_seconds: float = 3600.0) -> None:
        self.timeout_seconds = timeout_seconds
        self._guard = threading.Lock()
        self._locks: dict[tuple[str, str], threading.Lock] = {}

    @contextlib.contextmanager
    def hold(self, database: str, target: str) -> Iterator[None]:
        """Hold the lock of one target; ``TransientError`` if it stays busy past the deadline."""
        with self._guard:
            lock = self._locks.setdefault((database, target), threading.Lock())
        if not lock.acquire(timeout=self.timeout_seconds):
            raise TransientError(
                f"{database}.{target} is still being written by another load after {self.timeout_seconds:.0f} s"
            )
        try:
            yield
        finally:
            lock.release()

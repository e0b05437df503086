"""Publishing per-database artifacts off the dispatcher's thread, without a task run each.

A 250-database run publishes two table artifacts per database (its tables, its ledger). As task
runs they cost the local Prefect server more than the databases' own steps (bench.orchestration);
as calls on a few threads that carry the flow run's context they cost one API call each and stay
linked to the flow run, and the dispatcher never waits for them.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

#: Threads publishing at once (each call is one HTTP request to the Prefect API).
PUBLISHERS = 4


class Publisher:
    """Runs publishing calls on a small pool, each in a copy of the caller's context."""

    def __init__(self, logger: Any, workers: int = PUBLISHERS) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sqlfleet-publish")
        self._futures: list[Future[Any]] = []
        self._logger = logger

    def submit(self, publish: Callable[..., Any], *args: Any) -> None:
        """Publish later; a failure is logged (an artifact never fails a database)."""
        context = contextvars.copy_context()  # the flow run's context: artifacts link to the run
        self._futures.append(self._pool.submit(context.run, publish, *args))

    def close(self, deadline_seconds: float) -> int:
        """Wait (up to the deadline) for everything submitted; returns how many publications failed."""
        done, not_done = wait(self._futures, timeout=deadline_seconds)
        failed = [f.exception() for f in done if f.exception() is not None]
        for error in failed[:5]:
            self._logger.warning("an artifact was not published: %s", error)
        if not_done:
            self._logger.warning("%d artifact(s) still publishing after %.0f s", len(not_done), deadline_seconds)
        self._pool.shutdown(wait=False, cancel_futures=True)
        return len(failed) + len(not_done)


__all__ = ["PUBLISHERS", "Publisher"]

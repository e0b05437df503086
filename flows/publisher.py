"""Publishing artifacts off the dispatcher's thread, without a task run each.

A 250-database run publishes two table artifacts per database (its tables, its ledger). As task
runs they cost the local Prefect server more than the databases' own steps (bench.orchestration);
as calls on a few threads that carry the flow run's context they cost one API call each and stay
linked to the flow run, and the dispatcher never waits for them.

Artifacts that only show where the run is (the progress bar, the live fleet table) are published
with ``latest``: one thread publishes the newest value of each, in order, and skips values a newer
one replaced while it waited. Each is one API call that took 50-250 ms on a busy local server,
paid by the dispatcher's thread (and every database waiting on it) when it published them itself.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

#: Threads publishing at once (each call is one HTTP request to the Prefect API).
PUBLISHERS = 4

_Call = tuple[contextvars.Context, Callable[..., Any], tuple[Any, ...]]


class Publisher:
    """Runs publishing calls on a small pool, each in a copy of the caller's context."""

    def __init__(self, logger: Any, workers: int = PUBLISHERS) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sqlfleet-publish")
        self._futures: list[Future[Any]] = []
        self._logger = logger
        self._latest: dict[str, _Call] = {}
        self._latest_busy = False
        self._latest_failed = 0
        self._latest_changed = threading.Condition()
        self._latest_thread: threading.Thread | None = None
        self._closed = False

    def submit(self, publish: Callable[..., Any], *args: Any) -> None:
        """Publish later; a failure is logged (an artifact never fails a database)."""
        context = contextvars.copy_context()  # the flow run's context: artifacts link to the run
        self._futures.append(self._pool.submit(context.run, publish, *args))

    def latest(self, key: str, publish: Callable[..., Any], *args: Any) -> None:
        """Publish the newest value of ``key`` soon: replaces one of ``key`` still waiting; calls of
        one key run one at a time, in the order given. A failure is logged."""
        with self._latest_changed:
            self._latest.pop(key, None)  # re-inserted last: keys publish in the order of their last value
            self._latest[key] = (contextvars.copy_context(), publish, args)
            if self._latest_thread is None:
                self._latest_thread = threading.Thread(target=self._publish_latest, name="sqlfleet-latest", daemon=True)
                self._latest_thread.start()
            self._latest_changed.notify_all()

    def settle_latest(self, timeout: float) -> bool:
        """Wait until every ``latest`` value given so far is published; False after ``timeout``."""
        with self._latest_changed:
            return self._latest_changed.wait_for(lambda: not self._latest and not self._latest_busy, timeout)

    def close(self, deadline_seconds: float) -> int:
        """Wait (up to the deadline) for everything submitted; returns how many publications failed."""
        deadline = time.monotonic() + deadline_seconds
        settled = self.settle_latest(deadline_seconds)
        done, not_done = wait(self._futures, timeout=max(0.0, deadline - time.monotonic()))
        failed = [f.exception() for f in done if f.exception() is not None]
        for error in failed[:5]:
            self._logger.warning("an artifact was not published: %s", error)
        if not_done or not settled:
            late = len(not_done) + (not settled)
            self._logger.warning("%d artifact(s) still publishing after %.0f s", late, deadline_seconds)
        self._pool.shutdown(wait=False, cancel_futures=True)
        with self._latest_changed:
            self._closed = True
            self._latest_changed.notify_all()
        return len(failed) + len(not_done) + (not settled) + self._latest_failed

    def _publish_latest(self) -> None:
        while True:
            with self._latest_changed:
                self._latest_busy = False
                self._latest_changed.notify_all()
                self._latest_changed.wait_for(lambda: bool(self._latest) or self._closed)
                if not self._latest:
                    return
                key = next(iter(self._latest))
                context, publish, args = self._latest.pop(key)
                self._latest_busy = True
            try:
                context.run(publish, *args)
            except Exception as exc:  # an artifact never fails the run
                self._latest_failed += 1
                self._logger.warning("the %s artifact was not published: %s", key, exc)


__all__ = ["PUBLISHERS", "Publisher"]

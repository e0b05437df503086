"""Prefect global concurrency limits: checked once before a run starts, held strictly with leases.

Prefect runs *unlimited* when a limit does not exist and ``strict`` is off, and does not enforce
an inactive limit even in strict mode (reference/prefect.md §3); so a run first checks that every
limit it will use exists and is active, and refuses to start otherwise.

A run then holds slots through **lanes**: each lane holds one slot, strictly and with a lease, on
a thread of its own, for as long as the run has steps of that kind to run; the dispatcher starts a
step only in a lane no other step uses. A lane is acquired once and serves database after
database: on a SQLite Prefect server each acquisition racing other writes is answered 503 and the
client backs off 2 s, so acquiring per step cost seconds per database (bench.orchestration). A
lease is renewed while the lane holds it, so a crashed run's slots come free when it runs out.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import get_client
from prefect.concurrency._asyncio import ConcurrencySlotAcquisitionError
from prefect.concurrency.sync import concurrency
from prefect.exceptions import ObjectNotFound

from sqlfleet.errors import ConfigError
from sqlfleet.limits import Lane, LaneOpener, LaneReady

SETUP_HINT = "run `sqlfleet prefect setup` (it creates every limit the fleet uses, idempotently)"


@task(name="check-concurrency-limits", cache_policy=NO_CACHE)
def check_limits(names: Sequence[str]) -> dict[str, int]:
    """The size of every named global concurrency limit; ``ConfigError`` naming all missing or inactive ones."""
    sizes: dict[str, int] = {}
    missing: list[str] = []
    inactive: list[str] = []
    with get_client(sync_client=True) as client:
        for name in dict.fromkeys(names):
            try:
                limit = client.read_global_concurrency_limit_by_name(name)
            except ObjectNotFound:
                missing.append(name)
                continue
            if not limit.active:
                inactive.append(name)
            sizes[name] = limit.limit
    problems = []
    if missing:
        problems.append(f"missing: {', '.join(missing)}")
    if inactive:
        problems.append(f"inactive (Prefect does not enforce them): {', '.join(inactive)}")
    if problems:
        raise ConfigError(
            f"the fleet refuses to run without its concurrency limits ({'; '.join(problems)}): {SETUP_HINT}"
        )
    return sizes


class PrefectLane:
    """One slot of a Prefect global concurrency limit, held on a thread of its own until released.

    The slot is acquired with ``strict=True`` (a missing limit is an error, never "unlimited")
    and a lease Prefect renews while it is held. A failed renewal is logged rather than cancelling
    anything: stopping replication halfway would cost more than a briefly exceeded limit.
    Acquisition waits as long as the limit is full, in attempts of ``retry_seconds``, so a lane
    released while it waits (the run needs it no more, or ended) stops asking within one attempt.
    """

    def __init__(self, name: str, on_ready: LaneReady, lease_seconds: float, retry_seconds: float = 30.0) -> None:
        self._name = name
        self._on_ready = on_ready
        self._lease_seconds = lease_seconds
        self._retry_seconds = retry_seconds
        self._release = threading.Event()
        self._thread = threading.Thread(target=self._hold, name=f"sqlfleet-lane-{name}", daemon=True)
        self._thread.start()

    @property
    def name(self) -> str:
        """The limit the slot belongs to."""
        return self._name

    def release(self) -> None:
        """Give the slot back (once acquired, if it is not yet)."""
        self._release.set()

    def join(self, timeout: float) -> bool:
        """Wait until the slot is given back (or was never acquired); False after ``timeout``."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _hold(self) -> None:
        while not self._release.is_set():
            try:
                self._hold_once()
                return
            except TimeoutError:
                continue
            except ConcurrencySlotAcquisitionError as exc:
                self._on_ready(self, ConfigError(f"cannot hold a slot of {self._name}: {exc}; {SETUP_HINT}"))
                return
            except Exception as exc:  # the dispatcher decides; this thread must not die silently
                self._on_ready(self, exc)
                return

    def _hold_once(self) -> None:
        with concurrency(
            self._name,
            occupy=1,
            timeout_seconds=self._retry_seconds,
            strict=True,
            lease_duration=self._lease_seconds,
            raise_on_lease_renewal_failure=False,
        ):
            if not self._release.is_set():
                self._on_ready(self, None)
                self._release.wait()


def prefect_lanes(lease_seconds: float) -> LaneOpener:
    """Open lanes on Prefect global concurrency limits with ``lease_seconds`` leases."""

    def open_lane(name: str, on_ready: LaneReady) -> Lane:
        return PrefectLane(name, on_ready, lease_seconds)

    return open_lane


__all__ = ["SETUP_HINT", "PrefectLane", "check_limits", "prefect_lanes"]

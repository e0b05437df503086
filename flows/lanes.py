"""The slots a fleet run holds: one lane per slot of an engine or warehouse limit.

The run holds as many slots of a limit as it has replications (per instance) or loads to run
right now, at most the limit; ``Dispatch`` starts such a step only while fewer run than the run
holds slots. A lane serves one database after another, so a slot is acquired once per lane rather
than once per database (each acquisition costs seconds on a SQLite Prefect server). A lane nobody
will need again is released at once; one idle while more work is coming is kept for
``LANE_IDLE_SECONDS`` and then released, so a quiet run does not keep slots from other runs.

The first lane of each limit the run uses is asked for when the run starts, before a step needs
it: an acquisition takes seconds on a SQLite Prefect server (a 503 and Prefect's 2 s back-off), and
the warehouse's would otherwise only begin once the first database is verified, so a fleet of
short replications waited for two acquisitions in a row before anything loaded. Unused, it is a
spare lane like any other and goes back after ``LANE_IDLE_SECONDS``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from sqlfleet.dispatch import ENGINE_STEP, WAREHOUSE_STEP, Dispatch
from sqlfleet.limits import Lane, LaneOpener

#: How long a spare lane is kept while more work for it is still coming (several acquisitions' worth).
LANE_IDLE_SECONDS = 15.0

Key = str | None  # an instance (its engine limit) or None (the warehouse limit)


class LaneEvent:
    """A lane became held (``error`` None) or could not be (``error``): sent to the dispatcher's queue."""

    def __init__(self, key: Key, lane: Lane, error: BaseException | None) -> None:
        self.key = key
        self.lane = lane
        self.error = error


class LaneBook:
    """Lanes held and being acquired, per limit; balanced against the dispatch's demand."""

    def __init__(
        self,
        opener: LaneOpener,
        limits: Mapping[Key, str],
        notify: Callable[[LaneEvent], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``limits``: the limit name of each key the run uses; ``notify`` runs on the lane's thread."""
        self._open = opener
        self.limits = dict(limits)
        self._notify = notify
        self._clock = clock
        self.held: dict[Key, list[Lane]] = {key: [] for key in self.limits}
        self.pending: dict[Key, list[Lane]] = {key: [] for key in self.limits}
        self._spare_since: dict[Key, float | None] = dict.fromkeys(self.limits)
        self._balanced: set[Key] = set()  # keys balanced once: the first balance asks for a lane of each
        self._released: list[Lane] = []  # held lanes released, not yet known to have given their slot back
        self.acquired = 0

    def balance(self, dispatch: Dispatch) -> None:
        """Open lanes for the work waiting now, release those nobody needs, and tell ``dispatch``."""
        for key in self.limits:
            step = WAREHOUSE_STEP if key is None else ENGINE_STEP
            busy = dispatch.running(step, key)
            wanted = min(dispatch.limit(key), dispatch.demand(key))
            held, pending = self.held[key], self.pending[key]
            if key not in self._balanced:
                self._balanced.add(key)
                if dispatch.remaining(key) > 0:
                    wanted = max(wanted, 1)
            # Prefect acquires the slots of one limit one at a time anyway; asking for one more
            # only once the last is held wastes no acquisition when the demand passes.
            while len(held) + len(pending) < wanted and not pending:
                pending.append(self._open(self.limits[key], self._ready_callback(key)))
            later = dispatch.remaining(key) > busy  # some database still has this step ahead
            while pending and len(held) + len(pending) > wanted and not later:
                pending.pop().release()
            spare = len(held) - max(busy, wanted)
            if spare <= 0:
                self._spare_since[key] = None
            else:
                since = self._spare_since[key]
                if since is None and later:
                    self._spare_since[key] = self._clock()
                elif not later or (since is not None and self._clock() - since >= LANE_IDLE_SECONDS):
                    for _ in range(spare):
                        held.pop().release()
                    self._spare_since[key] = None
            dispatch.set_capacity(key, len(held))

    def settle(self, event: LaneEvent) -> None:
        """A lane's acquisition ended: it joins the held lanes, or its error is raised here."""
        pending = self.pending[event.key]
        if event.lane not in pending:  # released while it was being acquired: it gives its slot back
            return
        pending.remove(event.lane)
        if event.error is not None:
            raise event.error
        self.held[event.key].append(event.lane)
        self.acquired += 1

    @property
    def waiting(self) -> int:
        """Lanes still being acquired."""
        return sum(len(p) for p in self.pending.values())

    def release(self) -> None:
        """Release every lane, held or still being acquired, without waiting (see ``close``)."""
        self._released += [lane for lanes in self.held.values() for lane in lanes]
        for lanes in (*self.held.values(), *self.pending.values()):
            while lanes:
                lanes.pop().release()

    def close(self, timeout: float = 30.0) -> None:
        """Release every lane, held or still being acquired; wait (up to ``timeout``) for the held
        ones to give their slots back, so the run ends with none of its slots taken."""
        self.release()
        deadline = self._clock() + timeout
        released, self._released = self._released, []
        for lane in released:
            lane.join(max(0.0, deadline - self._clock()))

    def _ready_callback(self, key: Key) -> Callable[[Lane, BaseException | None], None]:
        def ready(lane: Lane, error: BaseException | None) -> None:
            self._notify(LaneEvent(key, lane, error))

        return ready


__all__ = ["LANE_IDLE_SECONDS", "LaneBook", "LaneEvent"]

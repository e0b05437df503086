"""Which database step may start now: the start order and the limits of a fleet run (pure).

A fleet run walks every database through a pipeline of steps (``replicate → verify → load`` for
a full load). ``Dispatch`` decides, each time a step ends, which steps may start:

- databases are **admitted** in plan order (longest expected first), at most ``max_in_flight`` at
  once in the run, and per instance at most as many as its engine limit before they are past
  replication, so one busy instance never keeps another idle;
- a **replication** step starts only while fewer than the instance's engine limit replicate in this
  run, admitted databases in plan order; a **load** step only while fewer than the warehouse limit
  load, first come first served; other steps start at once.

Within one run this keeps the start order. Across runs and processes the bounds are Prefect's
global concurrency limits: the run holds slots of them (``set_capacity`` says how many it holds
now), and a replication or load starts only while fewer run than the run holds slots for.
``demand`` and ``remaining`` tell how many slots the run can use now and later.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

Step = Literal["window", "replicate", "observe", "verify", "load", "checkpoint"]
DatabaseState = Literal["queued", "running", "waiting", "succeeded", "failed"]

FULL_LOAD_STEPS: tuple[Step, ...] = ("replicate", "verify", "load")
DELTA_STEPS: tuple[Step, ...] = ("window", "replicate", "verify", "load", "checkpoint")
VERIFY_ONLY_STEPS: tuple[Step, ...] = ("observe", "verify")
LOAD_ONLY_STEPS: tuple[Step, ...] = ("observe", "verify", "load")
LOAD_ONLY_DELTA_STEPS: tuple[Step, ...] = ("observe", "verify", "load", "checkpoint")

ENGINE_STEP: Step = "replicate"
WAREHOUSE_STEP: Step = "load"


def pipeline(mode: str, *, replicate: bool = True, load: bool = True) -> tuple[Step, ...]:
    """The steps of one database: a fleet run, a load-only run (``replicate=False``) or a
    verify-only run (``replicate=False, load=False``)."""
    delta = mode != "full-load"
    if replicate:
        return DELTA_STEPS if delta else FULL_LOAD_STEPS
    if not load:
        return VERIFY_ONLY_STEPS
    return LOAD_ONLY_DELTA_STEPS if delta else LOAD_ONLY_STEPS


class _Database:
    def __init__(self, name: str, instance: str, rank: int, first: int) -> None:
        self.name = name
        self.instance = instance
        self.rank = rank  # position in the plan's start order
        self.index = first  # current step
        self.state: DatabaseState = "queued"
        self.ready_since = 0  # when it started waiting for its current step (FIFO for loads)


class Dispatch:
    """The state of every database of a run and the next steps to start."""

    def __init__(
        self,
        order: Sequence[tuple[str, str]],
        steps: Sequence[Step],
        *,
        engine_limits: Mapping[str, int],
        warehouse_limit: int,
        max_in_flight: int,
        start_at: Mapping[str, Step] | None = None,
    ) -> None:
        """``order``: (database, instance) in start order. ``start_at``: databases resumed past their
        first step (e.g. at ``verify`` with an earlier replication)."""
        if max_in_flight < 1 or warehouse_limit < 1 or any(v < 1 for v in engine_limits.values()):
            raise ValueError("every limit must be at least 1")
        self.steps = tuple(steps)
        start_at = start_at or {}
        unknown = sorted({s for s in start_at.values() if s not in self.steps})
        if unknown:
            raise ValueError(f"resume steps {unknown} are not steps of this run {self.steps}")
        missing = sorted({i for _, i in order if i not in engine_limits} if ENGINE_STEP in self.steps else ())
        if missing:
            raise ValueError(f"no engine limit for instance(s) {missing}")
        self.engine_limits = dict(engine_limits)
        self.warehouse_limit = warehouse_limit
        self.max_in_flight = max_in_flight
        #: Slots held now, per instance (engine) and ``None`` (warehouse); absent: the limit itself.
        self._capacity: dict[str | None, int] = {}
        self._dbs = {
            name: _Database(name, instance, rank, self.steps.index(start_at.get(name, self.steps[0])))
            for rank, (name, instance) in enumerate(order)
        }
        if len(self._dbs) != len(order):
            raise ValueError("a database appears twice in the start order")
        self._clock = 0
        self._engine_index = self.steps.index(ENGINE_STEP) if ENGINE_STEP in self.steps else -1

    # -- queries -----------------------------------------------------------------------------

    def state(self, database: str) -> DatabaseState:
        """``queued``, ``running`` (a step is running), ``waiting`` (for a limit), ``succeeded`` or ``failed``."""
        return self._dbs[database].state

    def step(self, database: str) -> Step:
        """The database's current (or last) step."""
        db = self._dbs[database]
        return self.steps[min(db.index, len(self.steps) - 1)]

    @property
    def finished(self) -> bool:
        """Whether every database succeeded or failed."""
        return all(db.state in {"succeeded", "failed"} for db in self._dbs.values())

    def limit(self, instance: str | None) -> int:
        """The limit on replications on ``instance`` (``None``: on loads)."""
        return self.warehouse_limit if instance is None else self.engine_limits[instance]

    def capacity(self, instance: str | None) -> int:
        """How many replications may run on ``instance`` (``None``: how many loads) right now."""
        limit = self.limit(instance)
        return min(limit, self._capacity.get(instance, limit))

    def demand(self, instance: str | None) -> int:
        """Databases replicating on ``instance`` or waiting to (``None``: loading or waiting to load)."""
        step = WAREHOUSE_STEP if instance is None else ENGINE_STEP
        return sum(
            1
            for db in self._dbs.values()
            if db.state in {"running", "waiting"}
            and self.steps[db.index] == step
            and (instance is None or db.instance == instance)
        )

    def remaining(self, instance: str | None) -> int:
        """Databases that have yet to finish replicating on ``instance`` (``None``: loading)."""
        step = WAREHOUSE_STEP if instance is None else ENGINE_STEP
        if step not in self.steps:
            return 0
        at = self.steps.index(step)
        return sum(
            1
            for db in self._dbs.values()
            if db.state not in {"succeeded", "failed"}
            and db.index <= at
            and (instance is None or db.instance == instance)
        )

    def running(self, step: Step, instance: str | None = None) -> int:
        """How many databases run ``step`` now (on ``instance``, if given)."""
        return sum(
            1
            for db in self._dbs.values()
            if db.state == "running" and self.steps[db.index] == step and (instance is None or db.instance == instance)
        )

    # -- transitions -------------------------------------------------------------------------

    def set_capacity(self, instance: str | None, slots: int) -> None:
        """The run now holds ``slots`` slots of ``instance``'s engine limit (``None``: the warehouse's)."""
        if slots < 0:
            raise ValueError("slots cannot be negative")
        self._capacity[instance] = slots

    def ready(self) -> list[tuple[str, Step]]:
        """Steps to start now, marked running; call again after every ``done``."""
        self._admit()
        started: list[tuple[str, Step]] = []
        waiting = sorted(
            (db for db in self._dbs.values() if db.state == "waiting"),
            key=lambda db: (db.ready_since if self.steps[db.index] == WAREHOUSE_STEP else 0, db.rank),
        )
        engine_busy = {i: self.running(ENGINE_STEP, i) for i in self.engine_limits}
        loads = self.running(WAREHOUSE_STEP)
        for db in waiting:
            step = self.steps[db.index]
            if step == ENGINE_STEP:
                if engine_busy[db.instance] >= self.capacity(db.instance):
                    continue
                engine_busy[db.instance] += 1
            elif step == WAREHOUSE_STEP:
                if loads >= self.capacity(None):
                    continue
                loads += 1
            db.state = "running"
            started.append((db.name, step))
        return started

    def done(self, database: str, step: Step, ok: bool) -> DatabaseState:
        """Record that ``step`` of ``database`` ended; returns the database's new state."""
        db = self._dbs[database]
        if db.state != "running" or self.steps[db.index] != step:
            raise ValueError(f"{database}: {step} is not running (state {db.state}, step {self.step(database)})")
        if not ok:
            db.state = "failed"
        elif db.index + 1 == len(self.steps):
            db.state = "succeeded"
        else:
            db.index += 1
            self._wait(db)
        return db.state

    def _wait(self, db: _Database) -> None:
        self._clock += 1
        db.state = "waiting"
        db.ready_since = self._clock

    def _admit(self) -> None:
        active = [db for db in self._dbs.values() if db.state in {"running", "waiting"}]
        in_flight = len(active)
        before_engine = {i: 0 for i in self.engine_limits}
        for db in active:
            if db.index <= self._engine_index:
                before_engine[db.instance] += 1
        for db in sorted((d for d in self._dbs.values() if d.state == "queued"), key=lambda d: d.rank):
            if in_flight >= self.max_in_flight:
                return
            gated = db.index <= self._engine_index
            if gated and before_engine[db.instance] >= self.engine_limits[db.instance]:
                continue
            if gated:
                before_engine[db.instance] += 1
            in_flight += 1
            self._wait(db)


__all__ = [
    "DELTA_STEPS",
    "ENGINE_STEP",
    "FULL_LOAD_STEPS",
    "LOAD_ONLY_DELTA_STEPS",
    "LOAD_ONLY_STEPS",
    "VERIFY_ONLY_STEPS",
    "WAREHOUSE_STEP",
    "DatabaseState",
    "Dispatch",
    "Step",
    "pipeline",
]

"""The dispatcher's decisions: start order, per-instance and warehouse limits, admission, resume."""

from __future__ import annotations

import heapq
import random
from collections import defaultdict

import pytest

from sqlfleet.dispatch import DELTA_STEPS, FULL_LOAD_STEPS, VERIFY_ONLY_STEPS, Dispatch, Step, pipeline


def simulate(
    dispatch: Dispatch,
    seconds: dict[tuple[str, Step], float],
    fail: set[tuple[str, Step]] = frozenset(),  # type: ignore[assignment]
) -> tuple[list[tuple[float, str, Step]], dict[str, int], int]:
    """Run ``dispatch`` on a simulated clock; (starts, most running per step/instance key, most loads)."""
    now = 0.0
    running: list[tuple[float, int, str, Step]] = []
    starts: list[tuple[float, str, Step]] = []
    most: dict[str, int] = defaultdict(int)
    counter = 0
    while not dispatch.finished:
        for name, step in dispatch.ready():
            starts.append((now, name, step))
            counter += 1
            heapq.heappush(running, (now + seconds.get((name, step), 1.0), counter, name, step))
        for instance in ("ri-1", "ri-2"):
            most[instance] = max(most[instance], dispatch.running("replicate", instance))
        most["load"] = max(most["load"], dispatch.running("load"))
        in_flight = sum(1 for n in {s[1] for s in starts} if dispatch.state(n) in {"running", "waiting"})
        most["in_flight"] = max(most["in_flight"], in_flight)
        assert running, "nothing running and nothing startable"
        now, _, name, step = heapq.heappop(running)
        dispatch.done(name, step, (name, step) not in fail)
    return starts, dict(most), counter


def test_replication_starts_in_plan_order_within_each_instances_limit() -> None:
    rng = random.Random(3)
    order = [(f"db{i:02d}", "ri-1" if i % 3 else "ri-2") for i in range(30)]
    seconds = {(n, s): rng.uniform(0.1, 5.0) for n, _ in order for s in FULL_LOAD_STEPS}
    dispatch = Dispatch(
        order, FULL_LOAD_STEPS, engine_limits={"ri-1": 3, "ri-2": 2}, warehouse_limit=2, max_in_flight=8
    )
    starts, most, _ = simulate(dispatch, seconds)
    assert most["ri-1"] == 3 and most["ri-2"] == 2 and most["load"] == 2 and most["in_flight"] <= 8
    for instance in ("ri-1", "ri-2"):
        planned = [n for n, i in order if i == instance]
        started = [n for _, n, s in starts if s == "replicate" and dict(order)[n] == instance]
        assert started == planned  # longest-expected-first order kept per instance
    assert all(dispatch.state(n) == "succeeded" for n, _ in order)


def test_a_busy_instance_never_keeps_another_idle() -> None:
    # Admission is in plan order, but a full instance does not use up the run's in-flight budget.
    order = [(f"a{i}", "ri-1") for i in range(6)] + [("b0", "ri-2")]
    dispatch = Dispatch(
        order, FULL_LOAD_STEPS, engine_limits={"ri-1": 1, "ri-2": 1}, warehouse_limit=1, max_in_flight=4
    )
    first = dispatch.ready()
    assert first == [("a0", "replicate"), ("b0", "replicate")]


def test_loads_wait_for_the_warehouse_limit_first_come_first_served() -> None:
    order = [("x", "ri-1"), ("y", "ri-1"), ("z", "ri-1")]
    dispatch = Dispatch(order, FULL_LOAD_STEPS, engine_limits={"ri-1": 3}, warehouse_limit=1, max_in_flight=3)
    assert len(dispatch.ready()) == 3
    dispatch.done("z", "replicate", True)
    assert dispatch.ready() == [("z", "verify")]
    dispatch.done("z", "verify", True)
    assert dispatch.ready() == [("z", "load")]  # the warehouse's one slot is now taken
    for name in ("y", "x"):  # y is ready to load before x, although x comes first in the plan
        dispatch.done(name, "replicate", True)
        assert dispatch.ready() == [(name, "verify")]
        dispatch.done(name, "verify", True)
        assert dispatch.ready() == []
        assert dispatch.state(name) == "waiting" and dispatch.step(name) == "load"
    dispatch.done("z", "load", True)
    assert dispatch.ready() == [("y", "load")]
    assert dispatch.state("z") == "succeeded"


def test_a_failed_step_ends_its_database_and_frees_its_place() -> None:
    order = [("x", "local"), ("y", "local")]
    dispatch = Dispatch(order, FULL_LOAD_STEPS, engine_limits={"local": 1}, warehouse_limit=1, max_in_flight=1)
    assert dispatch.ready() == [("x", "replicate")]
    assert dispatch.done("x", "replicate", False) == "failed"
    assert dispatch.ready() == [("y", "replicate")]
    with pytest.raises(ValueError, match="not running"):
        dispatch.done("x", "verify", True)


def test_resumed_databases_start_past_replication_without_an_engine_slot() -> None:
    order = [("a", "local"), ("b", "local"), ("c", "local")]
    dispatch = Dispatch(
        order,
        DELTA_STEPS,
        engine_limits={"local": 1},
        warehouse_limit=2,
        max_in_flight=3,
        start_at={"b": "verify", "c": "verify"},
    )
    assert sorted(dispatch.ready()) == [("a", "window"), ("b", "verify"), ("c", "verify")]


def test_verify_only_needs_no_engine_limit() -> None:
    order = [(f"d{i}", "anywhere") for i in range(5)]
    dispatch = Dispatch(order, VERIFY_ONLY_STEPS, engine_limits={}, warehouse_limit=1, max_in_flight=2)
    _, most, count = simulate(dispatch, {})
    assert most["in_flight"] == 2 and count == 10
    assert pipeline("cdc", replicate=False, load=False) == VERIFY_ONLY_STEPS
    assert pipeline("cdc", replicate=False) == ("observe", "verify", "load", "checkpoint")


def test_bad_limits_and_orders_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Dispatch([("a", "x")], FULL_LOAD_STEPS, engine_limits={"x": 0}, warehouse_limit=1, max_in_flight=1)
    with pytest.raises(ValueError, match="no engine limit"):
        Dispatch([("a", "x")], FULL_LOAD_STEPS, engine_limits={}, warehouse_limit=1, max_in_flight=1)
    with pytest.raises(ValueError, match="twice"):
        Dispatch([("a", "x"), ("a", "x")], FULL_LOAD_STEPS, engine_limits={"x": 1}, warehouse_limit=1, max_in_flight=1)
    with pytest.raises(ValueError, match="not steps"):
        Dispatch(
            [("a", "x")],
            FULL_LOAD_STEPS,
            engine_limits={"x": 1},
            warehouse_limit=1,
            max_in_flight=1,
            start_at={"a": "window"},
        )

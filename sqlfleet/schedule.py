"""Start order of a fleet run: longest expected first (LPT), within the placement on instances (pure).

Expected durations come from the history of earlier runs where there is one, else from the
source's size scaled by the throughput measured in that history, else from a default. Starting
the longest jobs first bounds the makespan of list scheduling to 4/3 of the optimum (Graham
1969) and, with a heavy-tailed fleet, keeps one late giant from finishing alone at the end.
"""

from __future__ import annotations

import heapq
import statistics
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

EstimateSource = Literal["history", "size", "default"]


class HistoryEntry(BaseModel):
    """What an earlier run of one database cost."""

    model_config = ConfigDict(frozen=True)

    seconds: float = Field(ge=0)
    rows: int = Field(default=0, ge=0)
    source_bytes: int | None = Field(default=None, ge=0)
    finished_at: datetime | None = None


class JobEstimate(BaseModel):
    """Expected duration of one database's run and where the figure comes from."""

    model_config = ConfigDict(frozen=True)

    database: str
    seconds: float
    source: EstimateSource


def estimate_durations(
    databases: Sequence[str],
    history: Mapping[str, HistoryEntry],
    sizes: Mapping[str, int | None],
    *,
    default_seconds: float = 60.0,
) -> dict[str, JobEstimate]:
    """Expected seconds per database: history first, then size × measured seconds per byte, then a default.

    With sizes but no throughput measured yet (a fleet's first night), a size scales the typical
    duration (the median of the history, else ``default_seconds``) by size / mean size: the order
    follows the sizes and the figure stays a plausible number of seconds.
    """
    rates = [h.seconds / h.source_bytes for h in history.values() if h.source_bytes and h.seconds > 0]
    seconds_per_byte = statistics.median(rates) if rates else None
    known = [h.seconds for h in history.values()]
    fallback = statistics.median(known) if known else default_seconds
    stated = [s for s in sizes.values() if s]
    mean_size = statistics.fmean(stated) if stated else 1.0
    estimates: dict[str, JobEstimate] = {}
    for name in databases:
        entry = history.get(name)
        size = sizes.get(name)
        if entry is not None:
            estimates[name] = JobEstimate(database=name, seconds=entry.seconds, source="history")
        elif size and seconds_per_byte is not None:
            estimates[name] = JobEstimate(database=name, seconds=size * seconds_per_byte, source="size")
        elif size:
            estimates[name] = JobEstimate(database=name, seconds=fallback * size / mean_size, source="size")
        else:
            estimates[name] = JobEstimate(database=name, seconds=fallback, source="default")
    return estimates


def lpt_order(seconds: Mapping[str, float]) -> list[str]:
    """Database names, longest expected first; ties broken by name so the order is deterministic."""
    return sorted(seconds, key=lambda name: (-seconds[name], name))


def assign_instances(
    seconds: Mapping[str, float],
    instances: Sequence[str],
    slots_per_instance: int,
    fixed: Mapping[str, str] | None = None,
) -> dict[str, list[str]]:
    """Place databases on instances, LPT-greedy onto the least-loaded one; ``fixed`` ones stay put.

    Each instance's list is in LPT start order.
    """
    if not instances:
        raise ValueError("no instance to place databases on")
    fixed = fixed or {}
    unknown = sorted({i for i in fixed.values() if i not in instances})
    if unknown:
        raise ValueError(f"databases are placed on unknown instance(s) {unknown}")
    load = dict.fromkeys(instances, 0.0)
    for name, instance in fixed.items():
        if name in seconds:
            load[instance] += seconds[name]
    placed: dict[str, list[str]] = {i: [] for i in instances}
    for name in lpt_order(seconds):
        chosen = fixed.get(name)
        if chosen is None:
            chosen = min(instances, key=lambda i: (load[i] / slots_per_instance, i))
            load[chosen] += seconds[name]
        placed[chosen].append(name)
    return placed


def simulate_makespan(order: Sequence[str], seconds: Mapping[str, float], slots: int) -> float:
    """Finish time of list scheduling: each job starts, in ``order``, on the first free slot."""
    if slots < 1:
        raise ValueError("slots must be at least 1")
    free_at = [0.0] * slots
    finish = 0.0
    for name in order:
        start = heapq.heappop(free_at)
        end = start + seconds[name]
        finish = max(finish, end)
        heapq.heappush(free_at, end)
    return finish


def fleet_makespan(placement: Mapping[str, Sequence[str]], seconds: Mapping[str, float], slots: int) -> float:
    """Makespan over instances that each run ``slots`` tasks at once in their list's order."""
    return max((simulate_makespan(order, seconds, slots) for order in placement.values()), default=0.0)


def makespan_lower_bound(seconds: Mapping[str, float], total_slots: int) -> float:
    """No schedule beats max(total work / capacity, largest job)."""
    if not seconds:
        return 0.0
    return max(sum(seconds.values()) / total_slots, *seconds.values())

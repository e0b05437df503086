"""The Prefect global concurrency limits sqlfleet uses: their names and sizes (pure).

Missing limits are the trap (reference/prefect.md §3): without ``strict=True`` Prefect logs a
warning and runs unlimited, and an inactive limit is not enforced even in strict mode. So the
project creates every limit it acquires (``sqlfleet prefect setup``) and acquires strictly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from sqlfleet.report import artifact_key

#: Replication tasks running at once on the embedded engine (one "instance": this machine).
LOCAL_INSTANCE = "local"
#: Warehouse load statements (one per database load) running at once across every flow run.
WAREHOUSE_LIMIT = "sqlfleet-warehouse"


class LimitSpec(BaseModel):
    """One global concurrency limit as it should exist on the Prefect server."""

    model_config = ConfigDict(frozen=True)

    name: str
    limit: int = Field(ge=1)
    description: str


def engine_limit_name(instance: str) -> str:
    """Limit on running replication tasks of one replication instance (``local`` when embedded)."""
    return artifact_key("sqlfleet-engine", instance)


def desired_limits(*, instances: Sequence[str], tasks_per_instance: int, warehouse_statements: int) -> list[LimitSpec]:
    """Every limit a fleet needs: one per replication instance, one for the warehouse."""
    specs = [
        LimitSpec(
            name=engine_limit_name(i),
            limit=tasks_per_instance,
            description=f"replication tasks running at once on {i}",
        )
        for i in instances
    ]
    specs.append(
        LimitSpec(name=WAREHOUSE_LIMIT, limit=warehouse_statements, description="database loads running at once")
    )
    return specs


def limit_changes(desired: Sequence[LimitSpec], existing: dict[str, tuple[int, bool]]) -> list[tuple[str, LimitSpec]]:
    """What ``setup`` must do: ``("create"|"update"|"activate", spec)`` for each limit that is not right.

    ``existing`` maps a limit name to (limit, active).
    """
    changes: list[tuple[str, LimitSpec]] = []
    for spec in desired:
        found = existing.get(spec.name)
        if found is None:
            changes.append(("create", spec))
        elif found[0] != spec.limit:
            changes.append(("update", spec))
        elif not found[1]:
            changes.append(("activate", spec))
    return changes


class Lane(Protocol):
    """One slot of a global concurrency limit, held for a fleet run until ``release``.

    A run holds as many slots of a limit as it has steps of that kind to run (at most the
    limit), and starts such a step only while it holds a slot no other step of it uses.
    """

    @property
    def name(self) -> str:
        """The limit the slot belongs to."""
        ...

    def release(self) -> None:
        """Give the slot back (at once if it is held, as soon as it is acquired otherwise)."""
        ...

    def join(self, timeout: float) -> bool:
        """Wait until a released slot is given back; False if it is not within ``timeout``."""
        ...


#: Called from the lane's own thread once its slot is held, or with the error that prevents it.
LaneReady = Callable[[Lane, BaseException | None], None]
#: Start acquiring one slot of the named limit; ``on_ready`` says when it is held.
LaneOpener = Callable[[str, LaneReady], Lane]

"""Placement of a fleet's databases on DMS replication instances, within DMS quotas (pure).

DMS limits per account and region (reference/dms.md §5): 100 endpoints and 200 tasks per
replication instance, 1,000 endpoints, 600 tasks and 60 instances per account. Endpoints are
counted per the endpoint strategy (DESIGN.md, "Per-database output folders"):

- ``per-database-endpoint``: a source and a target endpoint per database (2 per database), so an
  instance holds at most 50 databases at the default quota;
- ``shared-endpoint``: a source endpoint per database plus one S3 target per instance (99).

Placement is sticky: a database stays on the instance it is already on (its tasks live there)
unless the caller asks to move it. When the fleet cannot fit, ``ConfigError`` says which limit
binds and what to add.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from sqlfleet.dms.names import instance_identifier
from sqlfleet.errors import ConfigError

EndpointStrategy = Literal["per-database-endpoint", "shared-endpoint"]

_FROZEN = ConfigDict(frozen=True, extra="forbid")
# AccountQuotaName in DescribeAccountAttributes -> Quotas field (reference/dms.md §5).
_ACCOUNT_QUOTA_NAMES = {
    "EndpointsPerInstance": "endpoints_per_instance",
    "Endpoints": "endpoints_per_account",
    "ReplicationTasks": "tasks_per_account",
    "ReplicationInstances": "instances_per_account",
}


class Quotas(BaseModel):
    """The DMS quotas placement respects (defaults: the documented account defaults)."""

    model_config = _FROZEN

    endpoints_per_instance: int = Field(default=100, ge=1)
    tasks_per_instance: int = Field(default=200, ge=1)
    tasks_per_account: int = Field(default=600, ge=1)
    endpoints_per_account: int = Field(default=1000, ge=1)
    instances_per_account: int = Field(default=60, ge=1)


def quotas_from_account_attributes(attrs: list[dict[str, object]], base: Quotas | None = None) -> Quotas:
    """``base`` (default quotas) with the ``Max`` of every known ``AccountQuotas`` entry of a
    ``DescribeAccountAttributes`` response; unknown names are ignored, malformed entries raise
    ``ValueError``."""
    values = (base or Quotas()).model_dump()
    for item in attrs:
        name, limit = item.get("AccountQuotaName"), item.get("Max")
        if name not in _ACCOUNT_QUOTA_NAMES:
            continue
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"account quota {name}: Max must be a positive integer, got {limit!r}")
        values[_ACCOUNT_QUOTA_NAMES[str(name)]] = limit
    return Quotas(**values)


class InstancePlacement(BaseModel):
    """The databases of one replication instance and what they use of its quotas."""

    model_config = _FROZEN

    instance: str
    databases: tuple[str, ...]
    endpoints: int
    tasks: int


class Placement(BaseModel):
    """Where every database of the fleet runs."""

    model_config = _FROZEN

    strategy: EndpointStrategy
    modes_per_database: int
    quotas: Quotas
    instances: tuple[InstancePlacement, ...]

    def assignments(self) -> dict[str, str]:
        """Database -> instance."""
        return {db: i.instance for i in self.instances for db in i.databases}

    def instance_of(self, database: str) -> str:
        """The instance ``database`` is placed on; ``KeyError`` if it is not placed."""
        return self.assignments()[database]

    @property
    def total_tasks(self) -> int:
        """Tasks across all instances."""
        return sum(i.tasks for i in self.instances)

    @property
    def total_endpoints(self) -> int:
        """Endpoints across all instances."""
        return sum(i.endpoints for i in self.instances)


def endpoints_for(strategy: EndpointStrategy, databases: int) -> int:
    """Endpoints ``databases`` databases use on one instance under ``strategy``."""
    if strategy == "per-database-endpoint":
        return 2 * databases
    return databases + 1 if databases else 0


def instance_capacity(strategy: EndpointStrategy, modes_per_database: int, quotas: Quotas) -> int:
    """How many databases one instance holds."""
    by_endpoints = (
        quotas.endpoints_per_instance // 2
        if strategy == "per-database-endpoint"
        else max(0, quotas.endpoints_per_instance - 1)
    )
    return min(by_endpoints, quotas.tasks_per_instance // modes_per_database)


def place_databases(
    databases: Sequence[str],
    *,
    strategy: EndpointStrategy,
    modes_per_database: int,
    quotas: Quotas,
    existing: Mapping[str, str] | None = None,
    instances: Sequence[str] | None = None,
    move: Collection[str] = (),
    instance_prefix: str = "sqlfleet",
) -> Placement:
    """Place ``databases`` on replication instances.

    ``existing`` maps databases to the instance they are on; they stay there unless named in
    ``move``. ``instances`` is the exact set of instances to use; without it, the instances of
    ``existing`` are kept and ``<instance_prefix>-NN`` ones added as needed. New (and moved)
    databases go, in order, to the instance with the most room left. ``ConfigError`` when the
    fleet does not fit, saying why and what to add.
    """
    if strategy not in ("per-database-endpoint", "shared-endpoint"):
        raise ValueError(f"unknown endpoint strategy {strategy!r}")
    if not 1 <= modes_per_database <= 3:
        raise ValueError(f"modes_per_database must be 1..3, got {modes_per_database}")
    if len(set(databases)) != len(databases):
        raise ValueError("databases contains duplicates")
    unknown = sorted(set(move) - set(databases))
    if unknown:
        raise ConfigError(f"cannot move databases that are not in the fleet: {', '.join(unknown)}")
    existing = existing or {}
    capacity = instance_capacity(strategy, modes_per_database, quotas)
    _check_account(len(databases), strategy, modes_per_database, quotas, capacity)
    kept = {db: existing[db] for db in databases if db in existing and db not in move}
    pool = _initial_pool(kept, instances)
    load = {i: sum(1 for inst in kept.values() if inst == i) for i in pool}
    for instance, count in load.items():
        if count > capacity:
            raise ConfigError(
                f"instance {instance} already holds {count} databases but holds at most {capacity} "
                f"({_binding_limit(strategy, modes_per_database, quotas)}): move {count - capacity} of them "
                "(move=...) or raise the quota"
            )
    newcomers = [db for db in databases if db not in kept]
    room = sum(capacity - n for n in load.values())
    if instances is not None and room < len(newcomers):
        raise ConfigError(
            _too_few_instances(
                len(databases),
                pool=pool,
                newcomers=newcomers,
                room=room,
                strategy=strategy,
                modes=modes_per_database,
                quotas=quotas,
            )
        )
    index = 1
    while room < len(newcomers):
        candidate = instance_identifier(index, instance_prefix)
        index += 1
        if candidate not in load:
            pool.append(candidate)
            load[candidate] = 0
            room += capacity
    if len(pool) > quotas.instances_per_account:
        raise ConfigError(
            f"{len(databases)} databases need {len(pool)} replication instances but the account allows "
            f"{quotas.instances_per_account}: raise the 'ReplicationInstances' quota to {len(pool)}"
            + (" or use the shared-endpoint strategy" if strategy == "per-database-endpoint" else "")
        )
    placed: dict[str, list[str]] = {i: [db for db, inst in kept.items() if inst == i] for i in pool}
    for db in newcomers:
        # the first of the emptiest instances; a moved database leaves its instance when it can
        candidates = [i for i in pool if i != existing.get(db) and len(placed[i]) < capacity] or pool
        target = max(candidates, key=lambda i: capacity - len(placed[i]))
        placed[target].append(db)
    order = {db: n for n, db in enumerate(databases)}
    result = tuple(
        InstancePlacement(
            instance=i,
            databases=tuple(sorted(placed[i], key=order.__getitem__)),
            endpoints=endpoints_for(strategy, len(placed[i])),
            tasks=modes_per_database * len(placed[i]),
        )
        for i in pool
    )
    total_endpoints = sum(p.endpoints for p in result)
    if total_endpoints > quotas.endpoints_per_account:
        raise ConfigError(
            f"the fleet needs {total_endpoints} endpoints but the account allows {quotas.endpoints_per_account}: "
            f"raise the 'Endpoints' quota to {total_endpoints}"
        )
    return Placement(strategy=strategy, modes_per_database=modes_per_database, quotas=quotas, instances=result)


def _initial_pool(kept: Mapping[str, str], instances: Sequence[str] | None) -> list[str]:
    if instances is None:
        return sorted(set(kept.values()))
    if len(set(instances)) != len(instances):
        raise ValueError("instances contains duplicates")
    stray = sorted({f"{db} (on {inst})" for db, inst in kept.items() if inst not in instances})
    if stray:
        raise ConfigError(
            f"databases placed on instances outside the instance list: {', '.join(stray)}; "
            "add those instances to the list or move the databases (move=...)"
        )
    return list(instances)


def _check_account(count: int, strategy: EndpointStrategy, modes: int, quotas: Quotas, capacity: int) -> None:
    if capacity < 1:
        raise ConfigError(
            f"one replication instance cannot hold a single database: "
            f"{_binding_limit(strategy, modes, quotas)}; raise the per-instance quotas"
        )
    tasks = modes * count
    if tasks > quotas.tasks_per_account:
        hint = f" or use fewer tasks per database ({quotas.tasks_per_account // count} fit)" if count else ""
        raise ConfigError(
            f"{count} databases × {modes} tasks = {tasks} tasks but the account allows "
            f"{quotas.tasks_per_account}: raise the 'ReplicationTasks' quota to {tasks}{hint}"
        )
    if strategy == "per-database-endpoint" and 2 * count > quotas.endpoints_per_account:
        raise ConfigError(
            f"{count} databases × 2 endpoints = {2 * count} endpoints but the account allows "
            f"{quotas.endpoints_per_account}: raise the 'Endpoints' quota to {2 * count} or use the "
            "shared-endpoint strategy (1 endpoint per database plus 1 per instance)"
        )


def _binding_limit(strategy: EndpointStrategy, modes: int, quotas: Quotas) -> str:
    per_db = "2 endpoints per database" if strategy == "per-database-endpoint" else "1 endpoint per database + 1 shared"
    return (
        f"{quotas.endpoints_per_instance} endpoints per instance at {per_db}, "
        f"{quotas.tasks_per_instance} tasks per instance at {modes} per database"
    )


def _too_few_instances(
    total: int,
    *,
    pool: Sequence[str],
    newcomers: Sequence[str],
    room: int,
    strategy: EndpointStrategy,
    modes: int,
    quotas: Quotas,
) -> str:
    capacity = instance_capacity(strategy, modes, quotas)
    extra = math.ceil((len(newcomers) - room) / capacity)
    per_instance = math.ceil(total / len(pool)) if pool else total
    raises = []
    if endpoints_for(strategy, per_instance) > quotas.endpoints_per_instance:
        raises.append(f"'EndpointsPerInstance' to {endpoints_for(strategy, per_instance)}")
    if modes * per_instance > quotas.tasks_per_instance:
        raises.append(f"tasks per instance to {modes * per_instance}")
    advice = [f"add {extra} instance(s) ({len(pool) + extra} in all)"]
    if raises and pool:
        advice.append(f"raise {' and '.join(raises)}")
    other: EndpointStrategy = "shared-endpoint" if strategy == "per-database-endpoint" else "per-database-endpoint"
    other_capacity = instance_capacity(other, modes, quotas)
    if other == "shared-endpoint" and other_capacity * len(pool) >= total:
        advice.append(f"use the shared-endpoint strategy ({other_capacity} databases per instance)")
    return (
        f"{total} databases do not fit on {len(pool)} replication instance(s) with the {strategy} strategy: "
        f"one instance holds at most {capacity} databases ({_binding_limit(strategy, modes, quotas)}), "
        f"so {len(newcomers)} database(s) to place have room for {room}. To fix: " + ", or ".join(advice) + "."
    )


def format_placement(placement: Placement) -> str:
    """The placement as a small table: databases, endpoints and tasks per instance vs quotas."""
    q = placement.quotas
    lines = [
        f"Placement ({placement.strategy}, {placement.modes_per_database} task(s) per database; per instance "
        f"{q.endpoints_per_instance} endpoints / {q.tasks_per_instance} tasks, per account "
        f"{q.endpoints_per_account} endpoints / {q.tasks_per_account} tasks):"
    ]
    for i in placement.instances:
        lines.append(
            f"  {i.instance:<24} {len(i.databases):>4} databases  {i.endpoints:>4}/{q.endpoints_per_instance} "
            f"endpoints  {i.tasks:>4}/{q.tasks_per_instance} tasks"
        )
    count = sum(len(i.databases) for i in placement.instances)
    lines.append(
        f"  {'total':<24} {count:>4} databases  {placement.total_endpoints:>4}/{q.endpoints_per_account} "
        f"endpoints  {placement.total_tasks:>4}/{q.tasks_per_account} tasks"
    )
    return "\n".join(lines)

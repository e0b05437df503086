"""The plan of a fleet run: which databases, with which task spec, in what order (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pydantic import BaseModel, ConfigDict

from sqlfleet.catalog import DatabaseEntry
from sqlfleet.dms.names import task_identifier
from sqlfleet.engines.base import MigrationType, SelectionRules, TaskSpec
from sqlfleet.schedule import EstimateSource, JobEstimate, lpt_order


class DatabasePlan(BaseModel):
    """One database of the run and the task that will replicate it."""

    model_config = ConfigDict(frozen=True)

    entry: DatabaseEntry
    spec: TaskSpec
    task_identifier: str
    #: Views the run leaves out (DMS replicates views in full-load tasks only), reported as skipped.
    skipped_views: tuple[str, ...] = ()
    #: Replication instance the task runs on (``local`` for the embedded engine).
    instance: str = "local"
    #: Expected replication seconds and where that figure comes from (``order_plan``).
    expected_seconds: float | None = None
    estimate: EstimateSource | None = None

    @property
    def name(self) -> str:
        """The catalog name of the database."""
        return self.entry.name


class FleetPlan(BaseModel):
    """Everything a fleet run will do, decided before anything starts."""

    model_config = ConfigDict(frozen=True)

    mode: MigrationType
    databases: tuple[DatabasePlan, ...]
    warnings: tuple[str, ...] = ()


def task_spec_for(
    entry: DatabaseEntry,
    mode: MigrationType,
    *,
    max_file_size_kb: int,
    timestamp_column: str,
    change_seq_column: str = "_dms_change_seq",
) -> TaskSpec:
    """The replication task spec of one catalog entry."""
    return TaskSpec(
        database=entry.name,
        migration_type=mode,
        source_url=entry.source,
        default_schema=entry.default_schema,
        schemas=SelectionRules(include=entry.schemas.include, exclude=entry.schemas.exclude),
        tables=SelectionRules(include=entry.tables.include, exclude=entry.tables.exclude),
        include_views=entry.views and mode == "full-load",
        max_full_load_subtasks=entry.max_full_load_subtasks,
        max_file_size_kb=max_file_size_kb,
        timestamp_column=timestamp_column,
        change_seq_column=change_seq_column,
    )


def build_plan(
    entries: Sequence[DatabaseEntry],
    mode: MigrationType,
    *,
    max_file_size_kb: int,
    timestamp_column: str,
    warnings: Sequence[str] = (),
    change_seq_column: str = "_dms_change_seq",
) -> FleetPlan:
    """Plan the run of ``entries`` (already filtered to the enabled or requested ones), in order."""
    plans = tuple(
        DatabasePlan(
            entry=e,
            spec=task_spec_for(
                e,
                mode,
                max_file_size_kb=max_file_size_kb,
                timestamp_column=timestamp_column,
                change_seq_column=change_seq_column,
            ),
            task_identifier=task_identifier(e.name, mode),
        )
        for e in entries
    )
    return FleetPlan(mode=mode, databases=plans, warnings=tuple(warnings))


def order_plan(plan: FleetPlan, estimates: Mapping[str, JobEstimate], instances: Mapping[str, str]) -> FleetPlan:
    """The plan in start order: longest expected first (LPT), each database on its instance.

    Each instance starts its databases in this order, filtered to its own; ``instances`` is the
    placement the engine decided (a database missing from it runs on ``local``).
    """
    by_name = {p.name: p for p in plan.databases}
    seconds = {name: estimates[name].seconds for name in by_name}
    ordered = tuple(
        by_name[name].model_copy(
            update={
                "instance": instances.get(name, "local"),
                "expected_seconds": round(estimates[name].seconds, 3),
                "estimate": estimates[name].source,
            }
        )
        for name in lpt_order(seconds)
    )
    return plan.model_copy(update={"databases": ordered})


def plan_table(plan: FleetPlan, actions: Mapping[str, str] | None = None) -> list[dict[str, object]]:
    """Rows of the plan table artifact, shown before anything starts.

    ``actions`` says per database what a resumed run does with it (``skip: loaded ...``). The
    estimate column says ``size (catalog)`` where the size is the catalog's ``size_mb``, which
    ``tasks.history.read_source_sizes`` prefers over a SQLite file's size.
    """
    actions = actions or {}
    return [
        {
            "order": i + 1,
            "database": p.name,
            "this_run": actions.get(p.name, "run"),
            "instance": p.instance,
            "expected_s": p.expected_seconds,
            "estimate": _estimate_label(p),
            "task": p.task_identifier,
            "mode": plan.mode,
            "source": p.entry.source,
            "schemas": ", ".join(p.entry.schemas.include)
            + (f" minus {', '.join(p.entry.schemas.exclude)}" if p.entry.schemas.exclude else ""),
            "tables": ", ".join(p.entry.tables.include)
            + (f" minus {', '.join(p.entry.tables.exclude)}" if p.entry.tables.exclude else ""),
            "views": p.spec.include_views,
            "parallel_tables": p.spec.max_full_load_subtasks,
        }
        for i, p in enumerate(plan.databases)
    ]


def _estimate_label(p: DatabasePlan) -> str:
    if p.estimate == "size" and p.entry.size_mb is not None:
        return "size (catalog)"
    return p.estimate or "-"

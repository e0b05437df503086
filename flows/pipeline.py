"""The fleet's orchestration inside a flow: plan, check the limits, dispatch every database, report.

The fleet flow, the onboarding flow and the verify-only and load-only flows all run this, with
different steps per database. The flow thread is the dispatcher (``flows/dispatcher.py``): when a
step ends it starts the database's next one, and whatever else ``sqlfleet.dispatch`` now allows,
so no worker thread waits for an upstream step and the plan's start order holds within the limits.
The run holds the limits' slots in lanes (``flows/lanes.py``) and starts a replication or a load
only in a lane of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from prefect import get_run_logger
from prefect.runtime import flow_run
from prefect.states import Completed, Failed, State
from prefect.utilities.annotations import quote

from flows.dispatcher import FleetDispatcher
from sqlfleet.catalog import apply_enabled_overrides, select_databases
from sqlfleet.dispatch import ENGINE_STEP, WAREHOUSE_STEP, Step, pipeline
from sqlfleet.engines.base import MigrationType, ReplicationEngine
from sqlfleet.lake import Lake
from sqlfleet.limits import WAREHOUSE_LIMIT, LaneOpener, engine_limit_name
from sqlfleet.plan import FleetPlan, build_plan, order_plan
from sqlfleet.report import FleetSummary
from sqlfleet.resume import ResumeDecision, decide, default_run_key
from sqlfleet.run_journal import RunJournal
from sqlfleet.runtime import Runtime, open_engine, open_warehouse
from sqlfleet.schedule import estimate_durations
from sqlfleet.settings import Settings
from sqlfleet.warehouses.base import Warehouse
from tasks.catalog import load_catalog_file, read_enabled_overrides
from tasks.history import read_history, read_source_sizes
from tasks.limits import check_limits, prefect_lanes
from tasks.report import publish_plan
from tasks.runs import read_run_records

#: Worker threads of a fleet flow's task runner: enough for every step the dispatcher runs at once.
FLEET_THREADS = 256


@dataclass(frozen=True)
class FleetRequest:
    """What one run does: which databases, which mode, which steps."""

    mode: MigrationType = "full-load"
    databases: Sequence[str] | None = None
    dry_run: bool = False
    catalog_path: str | None = None
    #: Resume key: a rerun with the same key skips what finished under it (default: date + mode).
    run_key: str | None = None
    only_failed: bool = False
    replicate: bool = True
    load: bool = True

    @property
    def steps(self) -> tuple[Step, ...]:
        """Every database's steps in this run."""
        return pipeline(self.mode, replicate=self.replicate, load=self.load)

    @property
    def resumable(self) -> bool:
        """Fleet runs keep run records and resume; verify-only and load-only runs do not."""
        return self.replicate


def _prefect_lanes(settings: Settings) -> LaneOpener:
    return prefect_lanes(settings.limit_lease_seconds)


@dataclass(frozen=True)
class Adapters:
    """How a run opens its engine, its warehouse and its lanes (tests and benchmarks substitute them)."""

    open_engine: Callable[[Settings, Lake], ReplicationEngine] = open_engine
    open_warehouse: Callable[[Settings], Warehouse] = open_warehouse
    lanes: Callable[[Settings], LaneOpener] = field(default=_prefect_lanes)


@dataclass
class Planned:
    """The run's plan and what was decided about each database before anything starts."""

    plan: FleetPlan
    sizes: dict[str, int | None]
    #: The databases in catalog order: the order of the final report (the plan is in start order).
    catalog_order: list[str] = field(default_factory=list)
    run_key: str | None = None
    journal: RunJournal | None = None
    decisions: dict[str, ResumeDecision] = field(default_factory=dict)

    def dispatched(self) -> list[str]:
        """Databases this run works on, in start order."""
        return [p.name for p in self.plan.databases if self.decisions.get(p.name, _RUN).action != "skip"]


_RUN = ResumeDecision(database="-", action="run")


def run_fleet(request: FleetRequest, adapters: Adapters | None = None) -> State:
    """Plan, check the limits, run every database's steps, and report; the flow's final state.

    One failing database never stops the others; the run ends Failed naming the failed ones.
    ``dry_run`` stops after the plan artifact.
    """
    adapters = adapters or Adapters()
    settings = Settings() if request.catalog_path is None else Settings(catalog_path=request.catalog_path)
    lake = Lake.from_settings(settings)
    runtime = Runtime(
        settings, lake, adapters.open_engine(settings, lake), None, warehouse_opener=adapters.open_warehouse
    )
    with runtime:
        planned = plan_run(request, runtime)
        if request.dry_run or not planned.plan.databases:
            summary = FleetSummary(mode=request.mode, outcomes=())
            return Completed(message=f"dry run: {len(planned.plan.databases)} database(s) planned", data=summary)
        limits = check_limits(_limit_names(request, planned)) if _needs_limits(request) else {}
        dispatcher = FleetDispatcher(
            request,
            planned,
            runtime,
            limits,
            lanes=adapters.lanes(settings),
            batch_id=str(flow_run.get_id() or "local"),
        )
        outcomes = dispatcher.run()
        dispatcher.report_end()
    summary = FleetSummary(mode=request.mode, outcomes=tuple(outcomes))
    message = _message(request, summary, planned.run_key)
    return Failed(message=message, data=summary) if summary.failed else Completed(message=message, data=summary)


def plan_run(request: FleetRequest, runtime: Runtime) -> Planned:
    """The catalog (with the UI's overrides), the start order, and a resumed run's decisions;
    published as the plan artifact before anything starts."""
    settings = runtime.settings
    logger = get_run_logger()
    catalog = load_catalog_file(str(settings.catalog_path))
    overrides = read_enabled_overrides(settings.enabled_variable)
    warnings: list[str] = []
    if overrides is not None:
        catalog, warnings = apply_enabled_overrides(
            catalog, overrides, origin=f"Prefect Variable {settings.enabled_variable}"
        )
    for warning in warnings:
        logger.warning(warning)
    entries = select_databases(catalog, request.databases)
    plan = build_plan(
        entries,
        request.mode,
        max_file_size_kb=settings.max_file_size_kb,
        timestamp_column=settings.timestamp_column,
        warnings=warnings,
        change_seq_column=settings.change_seq_column,
    )
    names = [e.name for e in entries]
    sizes = read_source_sizes(quote(entries), return_state=False) if entries else {}
    history = read_history(runtime.lake, names, request.mode) if entries else {}
    estimates = estimate_durations(names, history, sizes)
    plan = order_plan(plan, estimates, {name: runtime.instance_of(name) for name in names})
    planned = Planned(plan=plan, sizes=sizes, catalog_order=names)
    if request.resumable and entries:
        when = flow_run.get_scheduled_start_time()
        planned.run_key = request.run_key or default_run_key(
            request.mode, datetime.fromtimestamp(when.timestamp(), UTC).replace(tzinfo=None)
        )
        planned.journal = RunJournal(
            runtime.lake, planned.run_key, request.mode, str(flow_run.get_id() or "local"), background=True
        )
        records = read_run_records(planned.journal)
        planned.decisions = decide(names, records, only_failed=request.only_failed)
        for decision in planned.decisions.values():
            if decision.action != "run" or decision.reason:
                logger.info(
                    "%s: %s%s", decision.database, decision.action, f" ({decision.reason})" * bool(decision.reason)
                )
    actions = {d.database: f"{d.action}: {d.reason}" if d.reason else d.action for d in planned.decisions.values()}
    # Quoted: Prefect would otherwise walk every database's plan looking for futures.
    publish_plan(quote(plan), actions or None, planned.run_key, return_state=False)
    return planned


def _needs_limits(request: FleetRequest) -> bool:
    return ENGINE_STEP in request.steps or WAREHOUSE_STEP in request.steps


def _limit_names(request: FleetRequest, planned: Planned) -> list[str]:
    names = []
    if ENGINE_STEP in request.steps:
        dispatched = set(planned.dispatched())
        names += sorted({engine_limit_name(p.instance) for p in planned.plan.databases if p.name in dispatched})
    if WAREHOUSE_STEP in request.steps:
        names.append(WAREHOUSE_LIMIT)
    return names


def _message(request: FleetRequest, summary: FleetSummary, run_key: str | None) -> str:
    """The final state's message; says when databases were not run again because the key had them."""
    total = len(summary.outcomes)
    if summary.failed or request.replicate:
        message = summary.message
    else:
        message = f"{total}/{total} databases {'verified and loaded' if request.load else 'verified'} ({summary.mode})"
    earlier = sum(o.note.startswith("not run again") for o in summary.outcomes)
    if earlier:
        message += f"; {earlier} of them loaded earlier under run key {run_key} (not run again)"
    return message


__all__ = ["FLEET_THREADS", "Adapters", "FleetRequest", "Planned", "plan_run", "run_fleet"]

"""The dispatcher loop of a fleet run: submit each database's next step as the previous one ends.

Orchestration only: ``sqlfleet.dispatch`` decides what may start, the tasks do the work, the
journal (``sqlfleet.run_journal``) keeps what a rerun needs, and the artifacts show progress: the
progress artifact at most once a second, the fleet table every ``progress_every_seconds``.

The dispatcher's thread is on every database's path from one step to the next, so it waits for
no I/O per database: a step's result is read on the worker thread that ran it, the journal writes
in the background, and the artifacts (progress included) are published by ``flows.publisher``.
"""

from __future__ import annotations

import queue
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from prefect import get_run_logger
from prefect.futures import PrefectFuture, wait
from prefect.utilities.annotations import quote

from flows.lanes import LaneBook, LaneEvent
from flows.publisher import Publisher
from sqlfleet.cdc.delta import delta_outcome
from sqlfleet.dispatch import ENGINE_STEP, WAREHOUSE_STEP, Dispatch, Step
from sqlfleet.engines.base import MigrationType
from sqlfleet.limits import WAREHOUSE_LIMIT, LaneOpener, engine_limit_name
from sqlfleet.progress import history_entry, live_description, live_fleet_table, skipped_outcome, verified_outcome
from sqlfleet.report import DatabaseOutcome, FleetSummary, LoadResult, ReplicationResult, outcome_from_steps
from sqlfleet.runtime import Runtime
from sqlfleet.schedule import HistoryEntry
from sqlfleet.verify import VerifyReport
from tasks.alerts import announce_failure
from tasks.checkpoint import advance_checkpoint, prepare_window
from tasks.history import record_history
from tasks.progress import FLEET_TABLE_KEY, publish_fleet_progress
from tasks.replicate import read_latest_replication, replicate_database
from tasks.report import (
    publish_database_ledger,
    publish_database_report,
    publish_fleet_report,
    publish_ledger_rollup,
    start_progress,
    update_progress,
)
from tasks.verify import verify_replication
from tasks.warehouse_load import load_database

if TYPE_CHECKING:
    from flows.pipeline import FleetRequest, Planned

#: How long the dispatcher waits for a step before it refreshes the artifacts anyway.
IDLE_SECONDS = 1.0
#: Longest wait for the artifacts and events submitted as databases finished.
REPORT_DEADLINE_SECONDS = 600.0
#: The ``Publisher.latest`` key of the progress artifact.
PROGRESS = "sqlfleet-progress"


def _not_run() -> RuntimeError:
    return RuntimeError("not run: an earlier step of this database failed")


class FleetDispatcher:
    """Runs every dispatched database of ``planned`` through the request's steps."""

    def __init__(
        self,
        request: FleetRequest,
        planned: Planned,
        runtime: Runtime,
        limits: dict[str, int],
        *,
        lanes: LaneOpener,
        batch_id: str,
    ) -> None:
        self.request = request
        self.planned = planned
        self.runtime = runtime
        self.batch_id = batch_id
        self.logger = get_run_logger()
        self.plans = {p.name: p for p in planned.plan.databases}
        # A resumed run's databases that finished under its key: their outcome, not run again.
        self.outcomes: dict[str, DatabaseOutcome] = {
            name: skipped_outcome(d)
            for name, d in planned.decisions.items()
            if d.action == "skip" and d.finished is not None
        }
        dispatched = planned.dispatched()
        # Databases of this run in start order: the dispatched ones and those finished under its key.
        self.order = [n for n in self.plans if n in self.outcomes or n in set(dispatched)]
        self.results: dict[str, dict[Step, Any]] = {name: {} for name in self.order}
        self.failed_step: dict[str, Step] = {}
        self.last: dict[str, PrefectFuture[Any]] = {}
        self.reports: list[PrefectFuture[Any]] = []
        self.publisher = Publisher(self.logger)
        self.done: queue.Queue[tuple[str, Step, object] | LaneEvent] = queue.Queue()
        start_at: dict[str, Step] = {}
        for name in dispatched:
            decision = planned.decisions.get(name)
            if decision is not None and decision.action == "resume" and decision.replicated is not None:
                self.results[name] = {"window": decision.replicated.plan, "replicate": decision.replicated.replication}
                start_at[name] = "verify"
        steps = request.steps
        instances = {self.plans[n].instance for n in dispatched}
        self.dispatch = Dispatch(
            [(n, self.plans[n].instance) for n in dispatched],
            steps,
            engine_limits={i: limits[engine_limit_name(i)] for i in instances} if ENGINE_STEP in steps else {},
            warehouse_limit=limits.get(WAREHOUSE_LIMIT, 1),
            max_in_flight=runtime.settings.database_concurrency,
            start_at=start_at,
        )
        lane_limits: dict[str | None, str] = {}
        if ENGINE_STEP in steps:
            lane_limits |= {i: engine_limit_name(i) for i in instances}
        if WAREHOUSE_STEP in steps:
            lane_limits[None] = WAREHOUSE_LIMIT
        self.lanes = LaneBook(lanes, lane_limits, self.done.put)
        self.lanes.balance(self.dispatch)  # no slot held yet: nothing limited may start
        self.started: set[str] = set()
        self.stop_at = datetime.now(UTC).replace(tzinfo=None)  # one cut for the whole fleet's deltas

    # -- the loop ----------------------------------------------------------------------------

    def run(self) -> list[DatabaseOutcome]:
        """Dispatch until every database finished; their outcomes in catalog order."""
        try:
            self._loop()
        except BaseException:
            self.lanes.close()
            raise
        else:
            self.lanes.release()  # given back now; ``report_end`` waits for them while the reports go out
        finally:
            if self.planned.journal is not None:
                self.planned.journal.flush(REPORT_DEADLINE_SECONDS)
        return self.final_outcomes()

    def _loop(self) -> None:
        total = len(self.order)
        progress = start_progress(total)
        shown = -1
        progress_at = table_at = time.monotonic()
        outstanding = 0
        while not self.dispatch.finished:
            # Lanes first (a step may start only in a held lane), then the steps, then lanes for
            # the databases those steps just admitted.
            self.lanes.balance(self.dispatch)
            for name, step in self.dispatch.ready():
                self._submit(name, step)
                outstanding += 1
            self.lanes.balance(self.dispatch)
            if outstanding == 0 and self.lanes.waiting == 0:
                raise RuntimeError("the dispatcher has nothing running and nothing it may start")
            try:
                event = self.done.get(timeout=IDLE_SECONDS)
            except queue.Empty:
                pass
            else:
                if isinstance(event, LaneEvent):
                    self.lanes.settle(event)
                else:
                    outstanding -= 1
                    self._complete(*event)
            now = time.monotonic()
            finished = len(self.outcomes)
            if finished != shown and (now - progress_at >= 1.0 or finished == total):
                self.publisher.latest(PROGRESS, update_progress.fn, progress, finished, total)
                shown, progress_at = finished, now
            if now - table_at >= self.runtime.settings.progress_every_seconds:
                self._publish_live_table()
                table_at = now
        if shown != total:
            self.publisher.latest(PROGRESS, update_progress.fn, progress, total, total)

    def final_outcomes(self) -> list[DatabaseOutcome]:
        """Every database's outcome, in catalog order."""
        return [self.outcomes[name] for name in self.planned.catalog_order if name in self.outcomes]

    def report_end(self) -> None:
        """The end-of-run artifacts and bookkeeping: fleet table, ledger, history; waits for the rest."""
        # The live fleet table first: the final one must be the artifact's latest version.
        self.publisher.settle_latest(REPORT_DEADLINE_SECONDS)
        # Quoted: Prefect would walk every table of every database looking for futures.
        summary = FleetSummary(mode=self.request.mode, outcomes=tuple(self.final_outcomes()))
        publish_fleet_report(quote(summary), return_state=False)
        loads = [r.get("load") for r in self.results.values() if isinstance(r.get("load"), LoadResult)]
        if loads:
            publish_ledger_rollup(quote(loads), return_state=False)
        for mode, runs in self._history().items():
            record_history(quote(self.runtime.lake), quote(runs), mode, return_state=False)
        try:
            self.publisher.close(REPORT_DEADLINE_SECONDS)
            if self.reports:
                wait(self.reports, timeout=REPORT_DEADLINE_SECONDS)
        finally:
            self.lanes.close()

    # -- steps -------------------------------------------------------------------------------

    def _submit(self, name: str, step: Step) -> None:
        journal = self.planned.journal
        if name not in self.started:
            self.started.add(name)
            if journal is not None:
                journal.started(name, self.plans[name].task_identifier)
        results = self.results[name]
        plan = results.get("window", self.plans[name])
        rt = self.runtime
        upstream = [self.last[name]] if name in self.last else None
        # Every argument is a finished value: quoted, Prefect does not walk it looking for futures
        # (measured: walking the 40-table reports cost more than the task runs themselves).
        # ``wait_for`` still records the step before as the upstream of this one.
        task: Any
        args: tuple[Any, ...]
        if step == "window":
            task, args = prepare_window, (self.plans[name], rt, self.stop_at)
        elif step == "replicate":
            task, args = replicate_database, (plan, rt)
        elif step == "observe":
            task, args = read_latest_replication, (plan, rt)
        elif step == "verify":
            task, args = verify_replication, (results["replicate"], rt)
        elif step == "load":
            task, args = load_database, (results["verify"], plan, rt, self.batch_id)
        else:  # checkpoint
            task, args = advance_checkpoint, (results["load"], results["replicate"], rt, self.batch_id)
        future: PrefectFuture[Any] = task.submit(*(quote(a) for a in args), wait_for=upstream, return_state=False)
        self.last[name] = future
        future.add_done_callback(self._notifier(name, step))

    def _notifier(self, name: str, step: Step) -> Any:
        """A done-callback putting the finished step and its result (or error) on the dispatcher's
        queue. It runs on the worker thread: reading a result is a hop through Prefect's event loop."""

        def notify(future: PrefectFuture[Any]) -> None:
            try:
                value: object = future.result(raise_on_failure=False)
            except BaseException as exc:  # the dispatcher must hear of every step
                value = exc
            self.done.put((name, step, value))

        return notify

    def _complete(self, name: str, step: Step, value: object) -> None:
        ok = not isinstance(value, BaseException)
        # A read replication is stored where a replication would be: the later steps take either.
        self.results[name]["replicate" if step == "observe" else step] = value
        if ok and step == "replicate" and self.planned.journal is not None:
            assert isinstance(value, ReplicationResult)
            self.planned.journal.replicated(name, value, self.results[name].get("window", self.plans[name]))
        if not ok:
            self.failed_step[name] = step
        if self.dispatch.done(name, step, ok) in {"succeeded", "failed"}:
            self._finish(name)

    def _finish(self, name: str) -> None:
        outcome = self._outcome(name)
        self.outcomes[name] = outcome
        if self.planned.journal is not None:
            self.planned.journal.finished(outcome, self._failed_step(name, outcome), self.batch_id)
        self.publisher.submit(publish_database_report.fn, outcome)
        load = self.results[name].get("load")
        if isinstance(load, LoadResult):
            self.publisher.submit(publish_database_ledger, load)
        if outcome.status == "failed":
            self.logger.error("%s failed: %s", name, outcome.failure)
            self.reports.append(announce_failure.submit(outcome, self.planned.run_key or "-", self.request.mode))

    def _outcome(self, name: str) -> DatabaseOutcome:
        results = self.results[name]
        replication = results.get("replicate", _not_run())
        verification = results.get("verify", _not_run())
        if not self.request.load:
            return verified_outcome(name, replication, verification)
        outcome = outcome_from_steps(name, replication, verification, results.get("load", _not_run()))
        if self.request.mode != "full-load":
            window = results.get("window", self.plans[name])
            outcome = delta_outcome(outcome, window, results.get("checkpoint", _not_run()))
        return outcome

    def _failed_step(self, name: str, outcome: DatabaseOutcome) -> Step | None:
        """The step a failed database failed in: a load whose tables failed verification counts as
        a verification failure (a new replication may fix it; loading the same files cannot)."""
        if outcome.status != "failed":
            return None
        if name in self.failed_step:
            return self.failed_step[name]
        verification = self.results[name].get("verify")
        if isinstance(verification, VerifyReport) and any(p.severity == "error" for p in verification.problems):
            return "verify"
        return "load"

    # -- reporting ---------------------------------------------------------------------------

    def _publish_live_table(self) -> None:
        current: dict[str, str] = {}
        running: dict[str, int] = {}
        for name in self.order:
            if name in self.outcomes:
                continue
            state = self.dispatch.state(name)
            step = self.dispatch.step(name) if state in {"running", "waiting"} else state
            label = step if state == "running" else f"waiting for {step}" if state == "waiting" else state
            current[name] = label
            if state == "running":
                running[step] = running.get(step, 0) + 1
        failed = sum(o.status == "failed" for o in self.outcomes.values())
        description = live_description(len(self.outcomes), len(self.order), failed, running)
        rows = live_fleet_table(self.order, current, self.outcomes)
        self.publisher.latest(FLEET_TABLE_KEY, publish_fleet_progress.fn, rows, description)

    def _history(self) -> dict[MigrationType, dict[str, HistoryEntry]]:
        """What this run's replications cost, by the mode their task ran in."""
        now = datetime.now(UTC).replace(tzinfo=None)
        runs: dict[MigrationType, dict[str, HistoryEntry]] = {}
        for name, results in self.results.items():
            replication = results.get("replicate")
            outcome = self.outcomes.get(name)
            # Only a replication this run started measures the database (a re-attached one is partial).
            if not isinstance(replication, ReplicationResult) or replication.start_type is None:
                continue
            if outcome is not None and outcome.status == "succeeded":
                entry = history_entry(replication, self.planned.sizes.get(name), now)
                runs.setdefault(replication.task.migration_type, {})[name] = entry
        return runs


__all__ = ["FleetDispatcher"]

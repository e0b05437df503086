"""Run keys and resuming a fleet run: what each database did under a key, and what to do next (pure).

Every fleet run has a **run key**: by default the date of its scheduled start and the mode
(``2026-01-01-full-load``), so rerunning the night's full load the same day resumes it. A delta's
default key holds the scheduled time to the second (``2026-01-01T131500-cdc``): every hourly delta
is a run of its own, and a retry of that flow run (same scheduled time) resumes it. Under it, each
database leaves up to three records in the lake (``sqlfleet.run_journal``): ``started`` when its
first step starts, ``replicated`` once its replication finished (with the engine's statistics),
``finished`` with its outcome. Rerunning with the same key reads them back and decides, per
database:

- ``skip``: it finished successfully under this key (loaded); it is not touched again;
- ``resume``: it replicated under this key and was then interrupted, or only its load failed:
  verification and loading run again from the recorded replication, which is not redone;
- ``run``: everything else (never started, interrupted during replication, failed in replication
  or verification). Its replication step re-attaches to the engine's task when it is still
  running, rather than starting it again.

``only_failed`` narrows a rerun to the databases that started under the key and did not succeed;
databases the key never started are left for a normal run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from sqlfleet.dispatch import Step
from sqlfleet.engines.base import MigrationType
from sqlfleet.layout import check_run_key
from sqlfleet.plan import DatabasePlan
from sqlfleet.report import DatabaseOutcome, ReplicationResult

Action = Literal["run", "resume", "skip"]
#: Steps after which a failed database resumes from its recorded replication.
RESUMABLE_FAILURES: frozenset[str] = frozenset({"load", "checkpoint"})


def default_run_key(mode: MigrationType, when: datetime) -> str:
    """``<date>-<mode>`` (``2026-01-01-full-load``); a ``cdc`` key has the time (``2026-01-01T131500-cdc``).

    ``when`` is the run's scheduled start (so a retried scheduled run keeps its key).
    """
    stamp = when.strftime("%Y-%m-%dT%H%M%S") if mode == "cdc" else when.strftime("%Y-%m-%d")
    return check_run_key(f"{stamp}-{mode}")


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1] = 1
    run_key: str
    database: str
    mode: MigrationType
    #: The flow run that wrote the record (one attempt of the run key).
    attempt: str
    at: datetime


class StartedRecord(_Record):
    """The database's first step started."""

    stage: Literal["started"] = "started"
    task: str


class ReplicatedRecord(_Record):
    """The database's replication finished; verification and loading can resume from here."""

    stage: Literal["replicated"] = "replicated"
    replication: ReplicationResult
    #: The database's plan for this run (a delta's window), as the later steps use it.
    plan: DatabasePlan


class FinishedRecord(_Record):
    """The database's outcome under this run key."""

    stage: Literal["finished"] = "finished"
    status: Literal["succeeded", "failed"]
    #: The step that failed (``None`` when it succeeded).
    failed_step: Step | None = None
    batch_id: str
    outcome: DatabaseOutcome


class DatabaseRecords(BaseModel):
    """Whatever records one database has under a run key."""

    model_config = ConfigDict(frozen=True)

    started: StartedRecord | None = None
    replicated: ReplicatedRecord | None = None
    finished: FinishedRecord | None = None


class ResumeDecision(BaseModel):
    """What a (re)run does with one database."""

    model_config = ConfigDict(frozen=True)

    database: str
    action: Action
    reason: str = ""
    #: For ``resume``: the recorded replication and plan the remaining steps start from.
    replicated: ReplicatedRecord | None = None
    #: For ``skip``: the outcome it finished with.
    finished: FinishedRecord | None = None


def decide(
    databases: Sequence[str], records: Mapping[str, DatabaseRecords], *, only_failed: bool = False
) -> dict[str, ResumeDecision]:
    """The decision for every database of the plan, given the records of the run key."""
    decisions = {}
    for name in databases:
        found = records.get(name, DatabaseRecords())
        decisions[name] = _decide_one(name, found, only_failed)
    return decisions


def _decide_one(name: str, found: DatabaseRecords, only_failed: bool) -> ResumeDecision:
    finished, replicated = found.finished, found.replicated
    newest_start = max((r.at for r in (found.started, replicated) if r is not None), default=None)
    interrupted = newest_start is not None and (finished is None or finished.at < newest_start)
    if finished is not None and not interrupted and finished.status == "succeeded":
        return ResumeDecision(
            database=name,
            action="skip",
            reason=f"loaded under this run key by flow run {finished.attempt}",
            finished=finished,
        )
    if only_failed and found.started is None and replicated is None and finished is None:
        return ResumeDecision(database=name, action="skip", reason="not started under this run key (--only-failed)")
    if replicated is not None and (interrupted or (finished is not None and finished.status == "failed")):
        # The replication is still good unless a step after it failed for a reason that a new
        # replication could fix (verification found the files wrong).
        usable = (
            finished is None
            or replicated.at >= finished.at
            or (finished.status == "failed" and finished.failed_step in RESUMABLE_FAILURES)
        )
        if usable:
            what = "interrupted" if interrupted else f"its {finished.failed_step if finished else 'load'} failed"
            return ResumeDecision(
                database=name,
                action="resume",
                reason=f"replicated under this run key, then {what}: verifying and loading that replication again",
                replicated=replicated,
            )
    if finished is not None and finished.status == "failed" and not interrupted:
        return ResumeDecision(database=name, action="run", reason=f"failed in {finished.failed_step}: running again")
    if interrupted:
        return ResumeDecision(database=name, action="run", reason="interrupted under this run key: running again")
    return ResumeDecision(database=name, action="run")


__all__ = [
    "RESUMABLE_FAILURES",
    "DatabaseRecords",
    "FinishedRecord",
    "ReplicatedRecord",
    "ResumeDecision",
    "StartedRecord",
    "decide",
    "default_run_key",
]

"""What a fleet run shows while it runs, and the outcomes it does not compute itself (pure).

- ``live_fleet_table``: the fleet table during the run, one row per planned database with its
  current step (``queued``, ``replicate``, ``verify``, ``load``, ...) or its outcome;
- ``verified_outcome``: a verify-only run's line for one database (nothing is loaded);
- ``skipped_outcome``: a resumed run's line for a database an earlier attempt loaded;
- ``history_entry``: what a finished replication adds to the database's history.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlfleet.report import DatabaseOutcome, FleetSummary, ReplicationResult, TableRow, fleet_table
from sqlfleet.resume import ResumeDecision
from sqlfleet.schedule import HistoryEntry
from sqlfleet.verify import VerifyReport

#: ``TableRow.warehouse`` in a verify-only run.
NOT_LOADED_BY_DESIGN = "-"


def live_fleet_table(
    order: Sequence[str], current: Mapping[str, str], outcomes: Mapping[str, DatabaseOutcome]
) -> list[dict[str, object]]:
    """Every planned database in start order: its outcome when finished, else its current step."""
    rows: list[dict[str, object]] = []
    for name in order:
        outcome = outcomes.get(name)
        if outcome is not None:
            rows.extend(fleet_table_rows((outcome,)))
            continue
        rows.append(
            {
                "database": name,
                "status": current.get(name, "queued"),
                "tables": 0,
                "rows": 0,
                "files": 0,
                "bytes": 0,
                "seconds": 0.0,
                "failure": "",
                "note": "",
            }
        )
    return rows


def fleet_table_rows(outcomes: Sequence[DatabaseOutcome]) -> list[dict[str, object]]:
    """Fleet table rows of finished databases (the end-of-run table's columns)."""
    return fleet_table(FleetSummary(mode="", outcomes=tuple(outcomes)))


def live_description(done: int, total: int, failed: int, running: Mapping[str, int]) -> str:
    """One line under the live fleet table: how far the run is and what runs now."""
    steps = ", ".join(f"{n} {step}" for step, n in sorted(running.items()) if n)
    return f"{done}/{total} databases finished ({failed} failed)" + (f"; running: {steps}" if steps else "")


def verified_outcome(database: str, replication: object, verification: object) -> DatabaseOutcome:
    """A verify-only run's outcome: failed when the task could not be read or verification found errors."""
    if not isinstance(replication, ReplicationResult):
        return DatabaseOutcome(database=database, status="failed", failure=f"read task: {_reason(replication)}")
    if not isinstance(verification, VerifyReport):
        return DatabaseOutcome(database=database, status="failed", failure=f"verify: {_reason(verification)}")
    problems: dict[str, list[str]] = {}
    for p in verification.problems:
        if p.table and p.severity == "error":
            problems.setdefault(p.table, []).append(p.message)
    verified = {t.name: t for t in verification.tables}
    rows = []
    for stat in replication.tables:
        name = f"{stat.schema_name}.{stat.table_name}"
        table = verified.get(name)
        rows.append(
            TableRow(
                table=name,
                engine_state=stat.table_state,
                engine_rows=stat.full_load_rows + stat.inserts + stat.updates + stat.deletes,
                files=len(table.files) if table else 0,
                bytes=table.bytes if table else 0,
                warehouse=NOT_LOADED_BY_DESIGN,
                warehouse_rows=0,
                problem="; ".join(problems.get(name, [])),
            )
        )
    general = [p.message for p in verification.problems if not p.table and p.severity == "error"]
    bad = [r.table for r in rows if r.problem]
    failure = "; ".join(general)
    if bad:
        shown = ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        failure = "; ".join(x for x in (failure, f"{len(bad)} table(s) do not verify: {shown}") if x)
    return DatabaseOutcome(
        database=database,
        status="failed" if failure else "succeeded",
        tables=len(rows),
        rows=sum(r.engine_rows for r in rows),
        files=sum(r.files for r in rows),
        bytes=sum(r.bytes for r in rows),
        failure=failure,
        detail=tuple(rows),
    )


def skipped_outcome(decision: ResumeDecision) -> DatabaseOutcome:
    """The line of a database this run skips because it finished under the run key: that outcome."""
    if decision.finished is None:
        raise ValueError(f"{decision.database} has no outcome under this run key: {decision.reason}")
    return decision.finished.outcome.model_copy(update={"note": f"not run again: {decision.reason}"})


def history_entry(replication: ReplicationResult, source_bytes: int | None, finished_at: datetime) -> HistoryEntry:
    """What one finished replication cost: its seconds (slot held), rows and the source's size."""
    rows = sum(t.full_load_rows + t.inserts + t.updates + t.deletes for t in replication.tables)
    return HistoryEntry(
        seconds=round(replication.seconds, 3), rows=rows, source_bytes=source_bytes, finished_at=finished_at
    )


def _reason(value: object) -> str:
    if isinstance(value, BaseException):
        text = str(value) or type(value).__name__
        return text.splitlines()[0] if len(text) > 300 else text
    return f"unexpected result {type(value).__name__}"


__all__ = [
    "NOT_LOADED_BY_DESIGN",
    "fleet_table_rows",
    "history_entry",
    "live_description",
    "live_fleet_table",
    "skipped_outcome",
    "verified_outcome",
]

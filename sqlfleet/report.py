"""Results of a fleet run and their rendering for the Prefect UI and the terminal (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict

from sqlfleet.engines.base import StartType, TableStatistics, TaskRef, TaskStatus
from sqlfleet.ledger import LedgerEntry
from sqlfleet.warehouses.base import LoadedTable

DatabaseState = Literal["succeeded", "failed"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)


class ReplicationResult(_Frozen):
    """What the replication step of one database produced."""

    database: str
    task: TaskRef
    #: How this run started the task; ``None`` when it did not start it: it re-attached to the
    #: task still running, or read an earlier run's (verify-only, load-only).
    start_type: StartType | None
    status: TaskStatus
    tables: tuple[TableStatistics, ...]
    seconds: float


class LoadResult(_Frozen):
    """What the load step of one database produced."""

    database: str
    batch_id: str
    tables: tuple[LoadedTable, ...]
    seconds: float
    #: The reconciliation of every table's counts (``sqlfleet.ledger``), kept in the warehouse too.
    ledger: tuple[LedgerEntry, ...] = ()

    @property
    def failed(self) -> tuple[LoadedTable, ...]:
        """Tables that did not reach the warehouse in this run."""
        return tuple(t for t in self.tables if t.status == "failed")


class TableRow(_Frozen):
    """One line of a per-database table artifact."""

    table: str
    engine_state: str
    engine_rows: int
    files: int
    bytes: int
    warehouse: str
    warehouse_rows: int
    problem: str


class DatabaseOutcome(_Frozen):
    """One line of the fleet summary."""

    database: str
    status: DatabaseState
    tables: int = 0
    rows: int = 0
    files: int = 0
    bytes: int = 0
    seconds: float = 0.0
    failure: str = ""
    detail: tuple[TableRow, ...] = ()
    #: How this run came by the outcome when it is not its own work (a resumed run's skipped database).
    note: str = ""


class FleetSummary(_Frozen):
    """The whole run, as shown at its end."""

    mode: str
    outcomes: tuple[DatabaseOutcome, ...]

    @property
    def failed(self) -> tuple[DatabaseOutcome, ...]:
        """Databases that failed, in order."""
        return tuple(o for o in self.outcomes if o.status == "failed")

    @property
    def message(self) -> str:
        """One line for the flow run's final state."""
        total = len(self.outcomes)
        if not self.failed:
            return f"{total}/{total} databases replicated, verified and loaded ({self.mode})"
        names = ", ".join(o.database for o in self.failed)
        return f"{len(self.failed)}/{total} databases failed: {names}"


def summarize_database(
    database: str,
    *,
    load: LoadResult | None,
    problems_by_table: dict[str, list[str]],
    engine_tables: Sequence[TableStatistics],
    seconds: float,
    failure: str | None = None,
) -> DatabaseOutcome:
    """Fold one database's step results into its summary line and per-table rows."""
    loads = {f"{t.schema_name}.{t.table}": t for t in (load.tables if load else ())}
    rows: list[TableRow] = []
    for stat in engine_tables:
        name = f"{stat.schema_name}.{stat.table_name}"
        loaded = loads.get(name)
        problem = "; ".join(problems_by_table.get(name, []))
        if loaded is not None and loaded.error and loaded.error not in problem:
            problem = "; ".join(p for p in (problem, loaded.error) if p)
        if stat.error and stat.error not in problem:
            problem = "; ".join(p for p in (stat.error, problem) if p)
        rows.append(
            TableRow(
                table=name,
                engine_state=stat.table_state,
                # a cdc run reports changes (Inserts/Updates/Deletes), a full load FullLoadRows
                engine_rows=stat.full_load_rows + stat.inserts + stat.updates + stat.deletes,
                files=loaded.files if loaded else 0,
                bytes=loaded.bytes if loaded else 0,
                warehouse=loaded.status if loaded else "not_loaded",
                warehouse_rows=loaded.rows if loaded else 0,
                problem=problem,
            )
        )
    failed_tables = [r.table for r in rows if r.problem or r.warehouse in {"failed", "not_loaded"}]
    reason = failure or ""
    if not reason and failed_tables:
        shown = ", ".join(failed_tables[:5]) + (f" and {len(failed_tables) - 5} more" if len(failed_tables) > 5 else "")
        reason = f"{len(failed_tables)} table(s) failed: {shown}"
    return DatabaseOutcome(
        database=database,
        status="failed" if reason else "succeeded",
        tables=len(rows),
        rows=sum(r.warehouse_rows for r in rows),
        files=sum(r.files for r in rows),
        bytes=sum(r.bytes for r in rows),
        seconds=round(seconds, 2),
        failure=reason,
        detail=tuple(rows),
    )


def fleet_table(summary: FleetSummary) -> list[dict[str, object]]:
    """Rows of the fleet summary table artifact."""
    return [
        {
            "database": o.database,
            "status": o.status,
            "tables": o.tables,
            "rows": o.rows,
            "files": o.files,
            "bytes": o.bytes,
            "seconds": o.seconds,
            "failure": o.failure,
            "note": o.note,
        }
        for o in summary.outcomes
    ]


def database_table(outcome: DatabaseOutcome) -> list[dict[str, object]]:
    """Rows of one database's table artifact."""
    return [r.model_dump() for r in outcome.detail]


def fleet_markdown(summary: FleetSummary) -> str:
    """A short markdown report of the run for the flow run's Artifacts tab."""
    total_rows = sum(o.rows for o in summary.outcomes)
    total_bytes = sum(o.bytes for o in summary.outcomes)
    lines = [
        f"# sqlfleet {summary.mode}: {summary.message}",
        "",
        f"- databases: {len(summary.outcomes)} ({len(summary.failed)} failed)",
        f"- tables: {sum(o.tables for o in summary.outcomes)}",
        f"- rows loaded: {total_rows:,}",
        f"- Parquet bytes: {total_bytes:,}",
    ]
    if summary.failed:
        lines += ["", "## Failed databases", ""]
        lines += [f"- **{o.database}**: {o.failure}" for o in summary.failed]
    return "\n".join(lines) + "\n"


def format_summary(summary: FleetSummary) -> str:
    """The fleet summary as a fixed-width table for the terminal."""
    header = f"{'database':<24} {'status':<10} {'tables':>6} {'rows':>12} {'files':>6} {'MB':>9} {'s':>7}  failure"
    lines = [header, "-" * len(header)]
    for o in summary.outcomes:
        lines.append(
            f"{o.database:<24} {o.status:<10} {o.tables:>6} {o.rows:>12,} {o.files:>6} "
            f"{o.bytes / 1e6:>9.1f} {o.seconds:>7.1f}  {o.failure}"
        )
    return "\n".join(lines)


def artifact_key(*parts: str) -> str:
    """A Prefect artifact key (lowercase letters, digits and dashes only)."""
    raw = "-".join(parts).lower()
    cleaned = "".join(c if c.isascii() and (c.isalnum()) else "-" for c in raw)
    while "--" in cleaned:
        cleaned = cleaned.replace("--", "-")
    return cleaned.strip("-") or "sqlfleet"


def outcome_from_steps(
    database: str,
    replication: object,
    verification: object,
    load: object,
) -> DatabaseOutcome:
    """A database's outcome from its three step results; a step result may be the exception it raised.

    The first step that raised names the failure; later steps did not run for it.
    """
    from sqlfleet.verify import VerifyReport  # local: verify imports lake I/O helpers

    seconds = 0.0
    engine_tables: Sequence[TableStatistics] = ()
    if isinstance(replication, ReplicationResult):
        seconds += replication.seconds
        engine_tables = replication.tables
    else:
        return DatabaseOutcome(database=database, status="failed", failure=f"replicate: {_reason(replication)}")
    if not isinstance(verification, VerifyReport):
        return summarize_database(
            database,
            load=None,
            problems_by_table={},
            engine_tables=engine_tables,
            seconds=seconds,
            failure=f"verify: {_reason(verification)}",
        )
    problems: dict[str, list[str]] = {}
    for p in verification.problems:
        if p.table and p.severity == "error":
            problems.setdefault(p.table, []).append(p.message)
    if not isinstance(load, LoadResult):
        return summarize_database(
            database,
            load=None,
            problems_by_table=problems,
            engine_tables=engine_tables,
            seconds=seconds,
            failure=f"load: {_reason(load)}",
        )
    return summarize_database(
        database, load=load, problems_by_table=problems, engine_tables=engine_tables, seconds=seconds + load.seconds
    )


def _reason(value: object) -> str:
    if isinstance(value, BaseException):
        text = str(value) or type(value).__name__
        return text.splitlines()[0] if len(text) > 300 else text
    return f"unexpected result {type(value).__name__}"

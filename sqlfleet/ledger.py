"""The reconciliation ledger: every count a table's rows pass through, side by side (pure).

Per table and batch the ledger holds the source's own count (when the engine knows it), the
engine's statistics, the Parquet footer rows of the files loaded, and the warehouse's rows after
the load (for changes: the inserts, updates and deletes applied, and the rows before). Any two
counts that must agree and do not make the entry a ``mismatch``, and ``failing_loads`` turns
that into a failed table. The warehouse keeps the entries in ``_sqlfleet.reconciliation_ledger``
(columns ``sqlfleet.sql.bookkeeping.LEDGER_COLUMNS``) so history can be queried; the artifacts
come from ``ledger_table`` and ``fleet_rollup``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from sqlfleet.sql.bookkeeping import LEDGER_COLUMNS
from sqlfleet.verify import VerifiedTable
from sqlfleet.warehouses.base import LoadedTable

LedgerKind = Literal["full-load", "cdc"]
LedgerStatus = Literal["ok", "mismatch", "failed"]


class LedgerEntry(BaseModel):
    """One table's counts for one batch and whether they agree."""

    model_config = ConfigDict(frozen=True)

    recorded_at: datetime
    batch_id: str
    database: str
    schema_name: str
    table_name: str
    target: str
    kind: LedgerKind
    source_rows: int | None
    engine_rows: int
    footer_rows: int
    warehouse_rows: int | None
    previous_rows: int | None = None
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    load_status: str
    status: LedgerStatus
    problems: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """``schema.table`` of the source table."""
        return f"{self.schema_name}.{self.table_name}"

    def as_row(self) -> tuple[object, ...]:
        """The entry's values in ``LEDGER_COLUMNS`` order (``problems`` joined by ``; ``)."""
        values = self.model_dump()
        values["problems"] = "; ".join(self.problems)
        return tuple(values[name] for name, _ in LEDGER_COLUMNS)


def _entry(
    *,
    kind: LedgerKind,
    database: str,
    batch_id: str,
    table: VerifiedTable,
    loaded: LoadedTable,
    engine_rows: int,
    recorded_at: datetime,
    problems: list[str],
) -> LedgerEntry:
    failed = loaded.status == "failed"
    if failed:
        problems = [loaded.error or "the load failed"]
    return LedgerEntry(
        recorded_at=recorded_at,
        batch_id=batch_id,
        database=database,
        schema_name=table.schema_name,
        table_name=table.table,
        target=loaded.target,
        kind=kind,
        source_rows=table.source_rows,
        engine_rows=engine_rows,
        footer_rows=table.footer_rows,
        warehouse_rows=None if failed else loaded.rows,
        previous_rows=loaded.previous_rows,
        inserted=loaded.inserted,
        updated=loaded.updated,
        deleted=loaded.deleted,
        load_status=loaded.status,
        status="failed" if failed else ("mismatch" if problems else "ok"),
        problems=tuple(problems),
    )


def full_load_entry(
    database: str, batch_id: str, table: VerifiedTable, loaded: LoadedTable, recorded_at: datetime
) -> LedgerEntry:
    """Reconcile a full load: source = engine = footers = warehouse rows."""
    problems: list[str] = []
    name = table.name
    if table.source_rows is not None and table.source_rows != table.expected_rows:
        problems.append(f"{name}: the source holds {table.source_rows} rows, the engine loaded {table.expected_rows}")
    if table.expected_rows != table.footer_rows:
        problems.append(f"{name}: the engine loaded {table.expected_rows} rows, the footers hold {table.footer_rows}")
    if loaded.status != "failed" and loaded.rows != table.footer_rows:
        problems.append(
            f"{name}: the warehouse table {loaded.target!r} holds {loaded.rows} rows, "
            f"the footers {table.footer_rows} ({loaded.status})"
        )
    return _entry(
        kind="full-load",
        database=database,
        batch_id=batch_id,
        table=table,
        loaded=loaded,
        engine_rows=table.expected_rows,
        recorded_at=recorded_at,
        problems=problems,
    )


def change_entry(
    database: str,
    batch_id: str,
    table: VerifiedTable,
    loaded: LoadedTable,
    recorded_at: datetime,
    *,
    engine_changes: int | None = None,
) -> LedgerEntry:
    """Reconcile a change window: engine changes = footer rows, and the applied changes add up.

    ``engine_changes`` is the engine's ``inserts + updates + deletes`` for the window (default:
    ``table.expected_rows``, which CDC verification fills with that sum). The latest change per
    key collapses several changes into one, so the applied changes can only be fewer than the
    change rows; the target's rows must move by exactly ``inserted - deleted``.
    """
    engine = table.expected_rows if engine_changes is None else engine_changes
    problems: list[str] = []
    name = table.name
    if engine != table.footer_rows:
        problems.append(f"{name}: the engine reported {engine} changes, the CDC file footers hold {table.footer_rows}")
    applied = loaded.inserted + loaded.updated + loaded.deleted
    if loaded.status != "failed":
        if applied > table.footer_rows:
            problems.append(f"{name}: {applied} changes applied from {table.footer_rows} change rows")
        if loaded.previous_rows is not None and loaded.rows != loaded.previous_rows + loaded.inserted - loaded.deleted:
            problems.append(
                f"{name}: {loaded.target!r} went from {loaded.previous_rows} to {loaded.rows} rows, but "
                f"{loaded.inserted} inserts and {loaded.deleted} deletes were applied"
            )
    return _entry(
        kind="cdc",
        database=database,
        batch_id=batch_id,
        table=table,
        loaded=loaded,
        engine_rows=engine,
        recorded_at=recorded_at,
        problems=problems,
    )


def failing_loads(loads: Sequence[LoadedTable], entries: Sequence[LedgerEntry]) -> tuple[LoadedTable, ...]:
    """``loads`` with every table whose ledger entry is a mismatch turned into a failed table."""
    mismatched = {e.target: e for e in entries if e.status == "mismatch"}
    result = []
    for loaded in loads:
        entry = mismatched.get(loaded.target)
        if entry is None or loaded.status == "failed":
            result.append(loaded)
        else:
            reason = "reconciliation: " + "; ".join(entry.problems)
            result.append(loaded.model_copy(update={"status": "failed", "error": reason}))
    return tuple(result)


def ledger_table(entries: Sequence[LedgerEntry]) -> list[dict[str, object]]:
    """Rows of one database's ledger table artifact."""
    return [
        {
            "table": e.name,
            "kind": e.kind,
            "source": "-" if e.source_rows is None else e.source_rows,
            "engine": e.engine_rows,
            "footers": e.footer_rows,
            "warehouse": "-" if e.warehouse_rows is None else e.warehouse_rows,
            "inserted": e.inserted,
            "updated": e.updated,
            "deleted": e.deleted,
            "status": e.status,
            "problem": "; ".join(e.problems),
        }
        for e in entries
    ]


def fleet_rollup(ledgers: Mapping[str, Sequence[LedgerEntry]]) -> list[dict[str, object]]:
    """One row per database: how many tables reconcile, and the count totals."""
    rows: list[dict[str, object]] = []
    for database, entries in ledgers.items():
        known_source = [e.source_rows for e in entries if e.source_rows is not None]
        rows.append(
            {
                "database": database,
                "tables": len(entries),
                "ok": sum(e.status == "ok" for e in entries),
                "mismatch": sum(e.status == "mismatch" for e in entries),
                "failed": sum(e.status == "failed" for e in entries),
                "source_rows": sum(known_source) if len(known_source) == len(entries) else "-",
                "engine_rows": sum(e.engine_rows for e in entries),
                "footer_rows": sum(e.footer_rows for e in entries),
                "warehouse_rows": sum(e.warehouse_rows or 0 for e in entries),
            }
        )
    return rows

"""The ``Warehouse`` port: where verified lake files are loaded, and what a load reports.

Layout shared by every warehouse: one warehouse schema per source database (named after the
catalog's database name), one table per source table named by ``target_table_name``, holding
the source columns plus the DMS timestamp column but not the ``Op`` column.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from sqlfleet.lake import Lake
from sqlfleet.verify import VerifiedTable

if TYPE_CHECKING:
    from sqlfleet.ledger import LedgerEntry

LoadStatus = Literal["loaded", "unchanged", "emptied", "skipped_empty", "failed"]


def target_table_name(schema_name: str, table: str, default_schema: str = "dbo") -> str:
    """Warehouse table name of a source table.

    The source name when the table lives in the database's default schema, else
    ``<schema>_<table>``. Matching is exact (case-sensitive). Two source tables can map to the
    same name (``dbo.a_b`` and ``a.b``); the catalog is where such collisions are rejected.
    """
    return table if schema_name == default_schema else f"{schema_name}_{table}"


class LoadedTable(BaseModel):
    """Outcome of loading one table (a full load or a batch of changes).

    ``loaded``: replaced from the batch's files (full load) or the new change files were applied
    (``merge_changes``); ``unchanged``: the batch was already loaded / every change file was
    already applied; ``emptied``: the source is empty now and the existing table was emptied;
    ``skipped_empty``: the source is empty and no table exists to give it columns; ``failed``:
    built by callers that catch a load's error (the warehouse methods themselves raise).

    ``inserted``/``updated``/``deleted`` count the changes a merge APPLIED (latest change per
    key; a delete of an absent key applies nothing); ``previous_rows`` is the target's row count
    before a merge, so ``rows == previous_rows + inserted - deleted`` can be reconciled.
    ``notes`` carry what the caller should know but that did not fail the table (a column added
    from the source, an append-only change table for a table without a key).
    """

    model_config = ConfigDict(frozen=True)

    schema_name: str
    table: str
    target: str
    rows: int
    files: int
    bytes: int
    status: LoadStatus
    error: str | None = None
    seconds: float
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    previous_rows: int | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Applied:
    """What one load or change batch did, before it is dressed as a ``LoadedTable`` (adapters' helper)."""

    status: LoadStatus
    rows: int
    notes: tuple[str, ...] = ()
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    previous_rows: int | None = None

    def loaded_table(
        self, table: VerifiedTable, target: str, *, files: int, bytes_: int, started: float
    ) -> LoadedTable:
        """The ``LoadedTable`` of ``table`` loaded into ``target``; ``started`` is a ``perf_counter`` value."""
        return LoadedTable(
            schema_name=table.schema_name,
            table=table.table,
            target=target,
            rows=self.rows,
            files=files,
            bytes=bytes_,
            status=self.status,
            seconds=time.perf_counter() - started,
            inserted=self.inserted,
            updated=self.updated,
            deleted=self.deleted,
            previous_rows=self.previous_rows,
            notes=self.notes,
        )


def changes_table_name(target: str) -> str:
    """The append-only change table of a target whose source table has no key."""
    return f"{target}__changes"


@runtime_checkable
class Warehouse(Protocol):
    """What the fleet needs from a warehouse; the DuckDB and Snowflake adapters implement it."""

    def load_full(
        self, database: str, table: VerifiedTable, lake: Lake, batch_id: str, default_schema: str = "dbo"
    ) -> LoadedTable:
        """Replace the table's contents with the verified files, atomically and exactly once per batch.

        Raises ``TransientError`` (retry may succeed) or a ``TerminalError`` (``WarehouseError``,
        ``VerificationError``, ``LakeError``); the previous contents stay intact on failure.
        """
        ...

    def merge_changes(  # noqa: PLR0917 - the Warehouse contract's signature
        self,
        database: str,
        table: VerifiedTable,
        lake: Lake,
        batch_id: str,
        key_columns: Sequence[str],
        default_schema: str = "dbo",
    ) -> LoadedTable:
        """Apply a window of CDC files (``table.files``) to the target, exactly once per file.

        Files already recorded in the target's manifest are skipped; the latest change per key
        wins (change sequence, then commit timestamp, then file key, all descending), ``D``
        deletes, ``I``/``U`` upsert the after image. The merge and its manifest rows commit in
        one transaction. Without ``key_columns`` the changes are appended to ``<target>__changes``
        (every CDC column kept) and a note says so. Raises like ``load_full``.
        """
        ...

    def record_ledger(self, entries: Sequence[LedgerEntry]) -> None:
        """Append reconciliation ledger entries to ``_sqlfleet.reconciliation_ledger``."""
        ...

    def row_count(self, database: str, target: str) -> int | None:
        """Rows in a loaded table; ``None`` when the table does not exist."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...

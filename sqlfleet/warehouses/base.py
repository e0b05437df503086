"""The ``Warehouse`` port: where verified lake files are loaded, and what a load reports.

``WarehouseAdapter`` is the part of a load every adapter shares (naming the target, its lock,
the ``LoadedTable``); the DuckDB and Snowflake adapters supply only the warehouse's own steps.

Layout shared by every warehouse: one warehouse schema per source database (named after the
catalog's database name), one table per source table named by ``target_table_name``, holding
the source columns plus the DMS timestamp column but not the ``Op`` column.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from sqlfleet.lake import Lake, LakeObject
from sqlfleet.verify import VerifiedTable
from sqlfleet.warehouses.locks import TargetLocks

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


@dataclass(frozen=True)
class LoadJob:
    """One table being loaded: the source database, the verified table, its target, the batch, and what it is doing."""

    database: str
    table: VerifiedTable
    target: str
    batch_id: str
    doing: str

    @property
    def where(self) -> str:
        """``<database>.<target>``, for messages."""
        return f"{self.database}.{self.target}"


class WarehouseAdapter(ABC):
    """The ``Warehouse`` loads as template methods; an adapter supplies the warehouse-specific steps.

    The template names the target, holds the target's lock (``_targets``, set by the adapter)
    while the step runs, and dresses the step's ``Applied`` as a ``LoadedTable``.
    """

    _targets: TargetLocks

    def load_full(
        self, database: str, table: VerifiedTable, lake: Lake, batch_id: str, default_schema: str = "dbo"
    ) -> LoadedTable:
        """Replace the target with the verified files of one table (see ``Warehouse.load_full``).

        ``files`` and ``bytes`` count the batch when it is ``loaded`` or ``unchanged``, else 0.
        """
        started = time.perf_counter()
        target = target_table_name(table.schema_name, table.table, default_schema)
        job = LoadJob(database, table, target, batch_id, f"loading {table.name} into {self._where(database, target)}")
        with self._targets.hold(database, target):
            applied = self._replace(job, lake)
        full = applied.status in {"loaded", "unchanged"}
        return applied.loaded_table(
            table, target, files=len(table.files) if full else 0, bytes_=table.bytes if full else 0, started=started
        )

    def merge_changes(  # noqa: PLR0917 - the Warehouse contract's signature
        self,
        database: str,
        table: VerifiedTable,
        lake: Lake,
        batch_id: str,
        key_columns: Sequence[str],
        default_schema: str = "dbo",
    ) -> LoadedTable:
        """Apply the window's CDC files not applied yet (see ``Warehouse.merge_changes``).

        The target is ``<target>__changes`` when the table has no key; ``files`` and ``bytes``
        count the change files applied now.
        """
        started = time.perf_counter()
        base = target_table_name(table.schema_name, table.table, default_schema)
        target = base if key_columns else changes_table_name(base)
        where = self._where(database, target)
        job = LoadJob(database, table, target, batch_id, f"applying changes of {table.name} to {where}")
        with self._targets.hold(database, target):
            applied, pending = self._merge(job, lake, key_columns)
        return applied.loaded_table(
            table, target, files=len(pending), bytes_=sum(f.size for f in pending), started=started
        )

    @abstractmethod
    def _where(self, database: str, target: str) -> str:
        """Where ``database.target`` lives, for messages (which warehouse, which file or account)."""

    @abstractmethod
    def _replace(self, job: LoadJob, lake: Lake) -> Applied:
        """Replace ``job.target`` with ``job.table``'s files, or find the batch loaded already."""

    @abstractmethod
    def _merge(self, job: LoadJob, lake: Lake, key_columns: Sequence[str]) -> tuple[Applied, Sequence[LakeObject]]:
        """Apply the change files of ``job.table`` not applied yet; returns what it did and the files it applied."""

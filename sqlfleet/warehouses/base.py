"""The ``Warehouse`` port: where verified lake files are loaded, and what a load reports.

Layout shared by every warehouse: one warehouse schema per source database (named after the
catalog's database name), one table per source table named by ``target_table_name``, holding
the source columns plus the DMS timestamp column but not the ``Op`` column.
"""

from __future__ import annotations

from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from sqlfleet.lake import Lake
from sqlfleet.verify import VerifiedTable

LoadStatus = Literal["loaded", "unchanged", "emptied", "skipped_empty", "failed"]


def target_table_name(schema_name: str, table: str, default_schema: str = "dbo") -> str:
    """Warehouse table name of a source table.

    The source name when the table lives in the database's default schema, else
    ``<schema>_<table>``. Matching is exact (case-sensitive). Two source tables can map to the
    same name (``dbo.a_b`` and ``a.b``); the catalog is where such collisions are rejected.
    """
    return table if schema_name == default_schema else f"{schema_name}_{table}"


class LoadedTable(BaseModel):
    """Outcome of loading one table.

    ``loaded``: replaced from the batch's files; ``unchanged``: the batch was already loaded;
    ``emptied``: the source is empty now and the existing table was emptied; ``skipped_empty``:
    the source is empty and no table exists to give it columns; ``failed``: built by callers
    that catch a load's error (``load_full`` itself raises).
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

    def row_count(self, database: str, target: str) -> int | None:
        """Rows in a loaded table; ``None`` when the table does not exist."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...

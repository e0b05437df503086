"""CDC checkpoints: where each database's next delta starts, one per database and mode.

A checkpoint holds the recovery checkpoint of the replication task whose window was loaded
(``TaskStatus.recovery_checkpoint``: an LSN for the embedded engine, DMS's ``RecoveryCheckpoint``
for AWS DMS). It is written only after that window's load committed; a crash in between leaves the
previous checkpoint, and the rerun replays the window, which the MERGE applies idempotently.
A ``cdc`` run starts from the most recently written checkpoint of its database, whether a ``cdc``
run or a ``full-load-and-cdc`` run wrote it.

Where they live (``SQLFLEET_CHECKPOINT_STORE``):

- ``lake`` (default): one JSON object per database and mode at
  ``_sqlfleet/checkpoints/<database>/<mode>.json``, outside every database prefix (verification
  never sees it). A write is one PUT on S3 or a rename on a folder, so it is atomic; it works with
  any warehouse and survives rebuilding the warehouse from the lake.
- ``warehouse``: a row of ``_sqlfleet.cdc_checkpoints`` in the warehouse (DuckDB). The position
  then lives with the data it describes: restore the warehouse from a backup and its checkpoint
  comes back with it, so the next delta replays from where that copy stands. Prefer it when the
  warehouse can be restored or rolled back independently of the lake.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict

from sqlfleet import layout
from sqlfleet.engines.base import MigrationType
from sqlfleet.errors import ConfigError
from sqlfleet.lake import Lake
from sqlfleet.settings import Settings
from sqlfleet.sql import checkpoints as sql
from sqlfleet.warehouses.base import Warehouse
from sqlfleet.warehouses.duckdb import DuckDBWarehouse

#: Modes whose runs leave a position a delta continues from.
DELTA_MODES: tuple[MigrationType, ...] = ("cdc", "full-load-and-cdc")


class Checkpoint(BaseModel):
    """Where the next delta of ``database`` starts, as recorded by a run of ``mode``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1] = 1
    database: str
    mode: MigrationType
    position: str
    task: str
    batch_id: str
    written_at: datetime


class CheckpointStore(Protocol):
    """Reads and atomically writes checkpoints."""

    def read(self, database: str, mode: MigrationType) -> Checkpoint | None:
        """The checkpoint of ``database`` for ``mode``; ``None`` when none was written."""
        ...

    def write(self, checkpoint: Checkpoint) -> None:
        """Replace the checkpoint of its database and mode, atomically."""
        ...


class LakeCheckpointStore:
    """Checkpoints as JSON objects under ``_sqlfleet/checkpoints/`` in the lake."""

    def __init__(self, lake: Lake) -> None:
        self.lake = lake

    def read(self, database: str, mode: MigrationType) -> Checkpoint | None:
        """Read ``_sqlfleet/checkpoints/<database>/<mode>.json``; a damaged object is an error, not ``None``."""
        key = layout.checkpoint_key(database, mode)
        return self.lake.read_model(key, Checkpoint, "checkpoint")

    def write(self, checkpoint: Checkpoint) -> None:
        """One PUT (S3) or one rename (folder): readers see the old or the new checkpoint, never half."""
        key = layout.checkpoint_key(checkpoint.database, checkpoint.mode)
        with self.lake.open_output(key) as out:
            out.write(checkpoint.model_dump_json(indent=2).encode())


class WarehouseCheckpointStore:
    """Checkpoints as rows of ``_sqlfleet.cdc_checkpoints`` in a DuckDB warehouse."""

    def __init__(self, warehouse: DuckDBWarehouse) -> None:
        self.warehouse = warehouse
        for statement in sql.create_checkpoints_sql():
            warehouse.query(statement)

    def read(self, database: str, mode: MigrationType) -> Checkpoint | None:
        """The row of ``database`` and ``mode``, if any."""
        rows = self.warehouse.query(sql.read_checkpoint_sql(), [database, mode])
        if not rows:
            return None
        names = [n for n, _ in sql.CHECKPOINT_COLUMNS]
        return Checkpoint.model_validate(dict(zip(names, rows[0], strict=True)))

    def write(self, checkpoint: Checkpoint) -> None:
        """One ``INSERT OR REPLACE`` on the primary key (atomic)."""
        values = [getattr(checkpoint, n) for n, _ in sql.CHECKPOINT_COLUMNS]
        self.warehouse.query(sql.write_checkpoint_sql(), values)


def open_checkpoint_store(settings: Settings, lake: Lake, warehouse: Warehouse) -> CheckpointStore:
    """The store ``settings.checkpoint_store`` names."""
    if settings.checkpoint_store == "lake":
        return LakeCheckpointStore(lake)
    if not isinstance(warehouse, DuckDBWarehouse):
        raise ConfigError("checkpoint_store=warehouse is available with the DuckDB warehouse only; use lake")
    return WarehouseCheckpointStore(warehouse)


def latest_checkpoint(store: CheckpointStore, database: str) -> Checkpoint | None:
    """The most recently written checkpoint of ``database`` over the modes that leave one."""
    found = [c for c in (store.read(database, mode) for mode in DELTA_MODES) if c is not None]
    return max(found, key=lambda c: c.written_at, default=None)


__all__ = [
    "DELTA_MODES",
    "Checkpoint",
    "CheckpointStore",
    "LakeCheckpointStore",
    "WarehouseCheckpointStore",
    "latest_checkpoint",
    "open_checkpoint_store",
]

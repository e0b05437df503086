"""The composition root: the adapters a fleet run uses, built once from the settings."""

from __future__ import annotations

import threading
from types import TracebackType

from sqlfleet.engines.base import ReplicationEngine
from sqlfleet.engines.local import LocalEngine
from sqlfleet.lake import Lake
from sqlfleet.settings import Settings
from sqlfleet.warehouse_url import warehouse_kind
from sqlfleet.warehouses.base import Warehouse
from sqlfleet.warehouses.duckdb import DuckDBWarehouse
from sqlfleet.watch import TaskWatcher


class Runtime:
    """Engine, lake, warehouse and task watcher shared by every task of one fleet run."""

    def __init__(self, settings: Settings, lake: Lake, engine: ReplicationEngine, warehouse: Warehouse) -> None:
        self.settings = settings
        self.lake = lake
        self.engine = engine
        self.warehouse = warehouse
        # DMS: one DescribeReplicationTasks per instance per poll, within the account's API budget.
        interval = settings.dms_poll_interval_seconds if settings.engine == "dms" else settings.poll_interval_seconds
        self.watcher = TaskWatcher(engine, interval)
        # Databases whose replication runs at once in this process (global limits: issue 6).
        self.database_slots = threading.BoundedSemaphore(settings.database_concurrency)
        # Warehouse statements at once in this process, across every database's loads.
        self.warehouse_slots = threading.BoundedSemaphore(settings.warehouse_concurrency)

    @classmethod
    def open(cls, settings: Settings) -> Runtime:
        """Build the adapters the settings name."""
        lake = Lake.from_settings(settings)
        engine: ReplicationEngine
        if settings.engine == "dms":
            from sqlfleet.engines.dms_runtime import open_dms_engine  # boto3 only when DMS is used

            engine = open_dms_engine(settings)
        else:
            engine = LocalEngine(lake, workers=settings.local_workers, batch_rows=settings.batch_rows)
        return cls(settings, lake, engine, open_warehouse(settings))

    def close(self) -> None:
        """Release the warehouse connection."""
        self.warehouse.close()

    def __enter__(self) -> Runtime:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def open_warehouse(settings: Settings) -> Warehouse:
    """The warehouse ``SQLFLEET_WAREHOUSE_URL`` names: ``snowflake://...`` or a DuckDB file."""
    if warehouse_kind(settings.warehouse_url) == "snowflake":
        from sqlfleet.warehouses.snowflake import SnowflakeWarehouse  # the connector only when it is used

        return SnowflakeWarehouse.from_settings(settings)
    path = settings.warehouse_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    return DuckDBWarehouse(
        path, timestamp_column=settings.timestamp_column, change_seq_column=settings.change_seq_column
    )

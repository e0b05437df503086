"""The composition root: the adapters a fleet run uses, built once from the settings."""

from __future__ import annotations

import threading
from types import TracebackType

from sqlfleet.engines.base import ReplicationEngine
from sqlfleet.engines.local import LocalEngine
from sqlfleet.errors import ConfigError
from sqlfleet.lake import Lake
from sqlfleet.settings import Settings
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
        self.watcher = TaskWatcher(engine, settings.poll_interval_seconds)
        # Databases whose replication runs at once in this process (global limits: issue 6).
        self.database_slots = threading.BoundedSemaphore(settings.database_concurrency)

    @classmethod
    def open(cls, settings: Settings) -> Runtime:
        """Build the adapters the settings name."""
        lake = Lake.from_settings(settings)
        if settings.engine != "local":
            raise ConfigError(f"engine {settings.engine!r} is not available yet; use SQLFLEET_ENGINE=local")
        engine = LocalEngine(lake, workers=settings.local_workers, batch_rows=settings.batch_rows)
        path = settings.warehouse_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        return cls(settings, lake, engine, DuckDBWarehouse(path))

    def close(self) -> None:
        """Release the warehouse connection."""
        self.warehouse.close()

    def __enter__(self) -> Runtime:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

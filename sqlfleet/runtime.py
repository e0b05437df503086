"""The composition root: the adapters a fleet run uses, built once from the settings."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType

from sqlfleet.engines.base import PlacedEngine, ReplicationEngine
from sqlfleet.engines.local import LocalEngine
from sqlfleet.lake import Lake
from sqlfleet.limits import LOCAL_INSTANCE
from sqlfleet.settings import Settings
from sqlfleet.warehouse_url import warehouse_kind
from sqlfleet.warehouses.base import Warehouse
from sqlfleet.warehouses.duckdb import DuckDBWarehouse
from sqlfleet.watch import TaskWatcher


class Runtime:
    """Engine, lake, warehouse and task watcher shared by every task of one fleet run."""

    def __init__(
        self,
        settings: Settings,
        lake: Lake,
        engine: ReplicationEngine,
        warehouse: Warehouse | None,
        *,
        warehouse_opener: Callable[[Settings], Warehouse] | None = None,
    ) -> None:
        """``warehouse=None`` opens it on first use with ``warehouse_opener`` (default: the settings'
        warehouse), so a run that never loads (verify-only) never connects."""
        self.settings = settings
        self.lake = lake
        self.engine = engine
        self._warehouse = warehouse
        self._open_warehouse = warehouse_opener
        self._warehouse_lock = threading.Lock()
        # DMS: one DescribeReplicationTasks per instance per poll, within the account's API budget.
        interval = settings.dms_poll_interval_seconds if settings.engine == "dms" else settings.poll_interval_seconds
        self.watcher = TaskWatcher(engine, interval)
        # Warehouse statements at once in this process, across every database's loads.
        self.warehouse_slots = threading.BoundedSemaphore(settings.warehouse_concurrency)
        self._load_pool: ThreadPoolExecutor | None = None

    @classmethod
    def open(cls, settings: Settings) -> Runtime:
        """Build the adapters the settings name."""
        lake = Lake.from_settings(settings)
        return cls(settings, lake, open_engine(settings, lake), open_warehouse(settings))

    def instance_of(self, database: str) -> str:
        """The replication instance ``database``'s tasks run on (``local`` for the embedded engine)."""
        if isinstance(self.engine, PlacedEngine):
            return self.engine.instance_for(database)
        return LOCAL_INSTANCE

    @property
    def warehouse(self) -> Warehouse:
        """The warehouse, opened on first use when the runtime was given an opener."""
        with self._warehouse_lock:
            if self._warehouse is None:
                self._warehouse = (self._open_warehouse or open_warehouse)(self.settings)
            return self._warehouse

    @property
    def load_pool(self) -> ThreadPoolExecutor:
        """Threads the tables of every database's load run on, started on first use and kept.

        Twice ``warehouse_concurrency``: ``warehouse_slots`` bounds the statements; the spare
        threads let a table wait out a transient error's back-off without keeping another from
        a free slot. Kept for the run because starting threads for each database's load cost
        more than loading a small database (tens of ms under a busy fleet run's GIL).
        """
        with self._warehouse_lock:
            if self._load_pool is None:
                self._load_pool = ThreadPoolExecutor(
                    max_workers=2 * self.settings.warehouse_concurrency, thread_name_prefix="sqlfleet-load"
                )
            return self._load_pool

    def close(self) -> None:
        """Release the warehouse connection, if one was opened, and the load threads."""
        with self._warehouse_lock:
            if self._load_pool is not None:
                self._load_pool.shutdown(wait=True)
                self._load_pool = None
            if self._warehouse is not None:
                self._warehouse.close()

    def __enter__(self) -> Runtime:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def open_engine(settings: Settings, lake: Lake) -> ReplicationEngine:
    """The replication engine ``SQLFLEET_ENGINE`` names, with its databases placed on instances."""
    if settings.engine == "dms":
        from sqlfleet.engines.dms_runtime import open_dms_engine  # boto3 only when DMS is used

        return open_dms_engine(settings)
    return LocalEngine(lake, workers=settings.local_workers, batch_rows=settings.batch_rows)


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

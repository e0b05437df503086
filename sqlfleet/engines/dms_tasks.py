"""What the DMS engine knows about its replication tasks, and the describes that find them.

A task is known once this process ensured it, or after a lookup: by identifier (``find``), by
ARN (``describe``), or for many ARNs at once (``infos``: tasks another process ensured, 100 ARNs
a call, since ``DescribeReplicationTasks`` accepts at most 100 records a page).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from sqlfleet.engines.base import MigrationType, TaskRef, TaskSpec
from sqlfleet.engines.dms_api import DmsApi
from sqlfleet.errors import ReplicationError


class DmsTaskInfo(BaseModel):
    """What the engine knows about one task it ensured or looked up."""

    model_config = ConfigDict(frozen=True)

    arn: str
    identifier: str
    database: str
    migration_type: MigrationType
    instance_arn: str
    source_arn: str
    target_arn: str
    spec: TaskSpec | None = None

    @classmethod
    def from_described(cls, item: Mapping[str, Any], ref: TaskRef) -> DmsTaskInfo:
        """The info of ``ref`` from its ``DescribeReplicationTasks`` item."""
        return cls(
            arn=str(item["ReplicationTaskArn"]),
            identifier=ref.identifier,
            database=ref.database,
            migration_type=ref.migration_type,
            instance_arn=str(item["ReplicationInstanceArn"]),
            source_arn=str(item["SourceEndpointArn"]),
            target_arn=str(item["TargetEndpointArn"]),
        )

    def ref(self) -> TaskRef:
        """The task's handle."""
        return TaskRef(
            identifier=self.identifier, database=self.database, migration_type=self.migration_type, arn=self.arn
        )


class DmsTaskBook:
    """The tasks this process knows, by ARN, and the lookups that add to them (thread-safe)."""

    def __init__(self, api: DmsApi) -> None:
        self.api = api
        self._lock = threading.Lock()
        self._tasks: dict[str, DmsTaskInfo] = {}

    def remember(self, info: DmsTaskInfo) -> None:
        """Record ``info`` (an ensured task: replaces what a lookup knew, spec included)."""
        with self._lock:
            self._tasks[info.arn] = info

    def find(self, identifier: str, *, with_settings: bool = True) -> dict[str, Any] | None:
        """The described task named ``identifier``, or ``None``."""
        found = self._described("replication-task-id", identifier, with_settings)
        return found[0] if found else None

    def describe(self, arn: str, *, with_settings: bool = False) -> dict[str, Any]:
        """The described task ``arn``; ``ReplicationError`` when DMS no longer has it."""
        found = self._described("replication-task-arn", arn, with_settings)
        if not found:
            raise ReplicationError(f"replication task {arn} no longer exists")
        return found[0]

    def _described(self, filter_name: str, value: str, with_settings: bool) -> list[dict[str, Any]]:
        return list(
            self.api.pages(
                "describe_replication_tasks",
                "ReplicationTasks",
                Filters=[{"Name": filter_name, "Values": [value]}],
                WithoutSettings=not with_settings,
            )
        )

    def lookup(self, identifier: str, database: str, migration_type: MigrationType) -> TaskRef | None:
        """The task named ``identifier`` if DMS has it (remembered for later calls), else ``None``."""
        found = self.find(identifier, with_settings=False)
        if found is None:
            return None
        ref = TaskRef(
            identifier=identifier,
            database=database,
            migration_type=migration_type,
            arn=str(found["ReplicationTaskArn"]),
        )
        info = DmsTaskInfo.from_described(found, ref)
        with self._lock:
            self._tasks.setdefault(info.arn, info)
        return ref

    def info(self, task: TaskRef) -> DmsTaskInfo:
        """What is known of ``task``; ``ReplicationError`` when DMS does not know it."""
        info = self.infos([task])[0]
        if info is None:
            raise ReplicationError(f"replication task {task.identifier} ({task.arn}) does not exist")
        return info

    def infos(self, tasks: Sequence[TaskRef]) -> list[DmsTaskInfo | None]:
        """What is known of ``tasks``; tasks never ensured here (another process did) are looked up
        together, 100 ARNs a call; ``None`` for a task DMS does not know."""
        with self._lock:
            unknown = sorted({t.arn for t in tasks if t.arn not in self._tasks})
        by_arn = {t.arn: t for t in tasks}
        for start in range(0, len(unknown), 100):
            items = self.api.pages(
                "describe_replication_tasks",
                "ReplicationTasks",
                Filters=[{"Name": "replication-task-arn", "Values": unknown[start : start + 100]}],
                MaxRecords=100,
                WithoutSettings=True,
            )
            for item in items:
                info = DmsTaskInfo.from_described(item, by_arn[str(item["ReplicationTaskArn"])])
                with self._lock:
                    self._tasks.setdefault(info.arn, info)
        with self._lock:
            return [self._tasks.get(t.arn) for t in tasks]

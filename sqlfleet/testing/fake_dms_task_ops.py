"""Replication task operations of the fake DMS (a test double; see ``fake_dms`` and ``fake_dms_tasks``)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlfleet.testing.fake_dms_data import S3Target
from sqlfleet.testing.fake_dms_state import (
    ArnMaker,
    Clock,
    Endpoint,
    FakeDmsError,
    Instance,
    apply_filters,
    check_identifier,
    paginate,
    require,
)
from sqlfleet.testing.fake_dms_tasks import MIGRATION_TYPES, RunPlan, Task, TaskRunner, check_start, stop_point

_BUSY = frozenset({"starting", "running", "stopping"})
_MODIFIABLE = frozenset({"ready", "stopped", "failed"})


class TaskOperations:
    """Mixin of ``FakeDms``: create, describe, modify, start, stop and delete tasks; table statistics."""

    config: Any
    arns: ArnMaker
    clock: Clock
    runner: TaskRunner
    run_seconds_for: Callable[[str], float] | None
    instance: Callable[[object], Instance]
    endpoint: Callable[[object], Endpoint]
    testing: Callable[[Instance, list[Endpoint]], bool]
    check_mappings: Callable[[object], str]
    s3_target: Callable[[Endpoint], S3Target]

    def init_tasks(self) -> None:
        """No tasks."""
        self.tasks: dict[str, Task] = {}

    def task(self, arn: object) -> Task:
        """The task with this ARN, or ``ResourceNotFoundFault``."""
        found = self.tasks.get(str(arn))
        if found is None:
            raise FakeDmsError("ResourceNotFoundFault", f"Replication task {arn} not found")
        return found

    def task_by_identifier(self, identifier: str) -> Task:
        """The task called ``identifier`` (for tests to look at or tamper with); ``KeyError`` if none."""
        for task in self.tasks.values():
            if task.identifier == identifier:
                return task
        raise KeyError(identifier)

    @staticmethod
    def _check_settings(text: object) -> str:
        try:
            value = json.loads(str(text))
        except ValueError as exc:
            raise FakeDmsError("InvalidParameterValueException", f"Invalid ReplicationTaskSettings: {exc}") from None
        if not isinstance(value, dict):
            raise FakeDmsError("InvalidParameterValueException", "ReplicationTaskSettings must be a JSON object")
        return str(text)

    def op_create_replication_task(self, p: dict[str, Any]) -> dict[str, Any]:
        """The DMS ``CreateReplicationTask`` operation."""
        require(
            p,
            "ReplicationTaskIdentifier",
            "SourceEndpointArn",
            "TargetEndpointArn",
            "ReplicationInstanceArn",
            "MigrationType",
            "TableMappings",
        )
        ident = check_identifier(p["ReplicationTaskIdentifier"], "ReplicationTaskIdentifier")
        if p["MigrationType"] not in MIGRATION_TYPES:
            raise FakeDmsError("InvalidParameterValueException", f"Invalid MigrationType {p['MigrationType']!r}")
        if any(t.identifier == ident for t in self.tasks.values()):
            raise FakeDmsError("ResourceAlreadyExistsFault", f"Replication task {ident} already exists")
        instance = self.instance(p["ReplicationInstanceArn"])
        source, target = self.endpoint(p["SourceEndpointArn"]), self.endpoint(p["TargetEndpointArn"])
        if source.endpoint_type != "source" or target.endpoint_type != "target":
            raise FakeDmsError(
                "InvalidParameterValueException", "SourceEndpointArn must be a source, TargetEndpointArn a target"
            )
        mappings = self.check_mappings(p["TableMappings"])
        settings = self._check_settings(p.get("ReplicationTaskSettings") or "{}")
        quotas = self.config.quotas
        on_instance = [t for t in self.tasks.values() if t.instance is instance]
        if len(self.tasks) >= quotas["ReplicationTasks"]:
            raise FakeDmsError(
                "ResourceQuotaExceededFault", f"ReplicationTasks quota of {quotas['ReplicationTasks']} reached"
            )
        if len(on_instance) >= quotas["TasksPerInstance"]:
            raise FakeDmsError("ResourceQuotaExceededFault", f"{quotas['TasksPerInstance']} tasks per instance reached")
        used = {e.arn for t in on_instance for e in (t.source, t.target)} | {source.arn, target.arn}
        if len(used) > quotas["EndpointsPerInstance"]:
            raise FakeDmsError(
                "ResourceQuotaExceededFault", f"{quotas['EndpointsPerInstance']} endpoints per instance reached"
            )
        task = Task(
            arn=self.arns.make("task"),
            identifier=ident,
            source=source,
            target=target,
            instance=instance,
            migration_type=p["MigrationType"],
            mappings=mappings,
            settings=settings,
            created=self.clock(),
            polls_left=self.config.creating_polls,
            cdc_start_position=p.get("CdcStartPosition"),
            cdc_stop_position=p.get("CdcStopPosition"),
        )
        self.tasks[task.arn] = task
        return {"ReplicationTask": task.to_api()}

    def op_describe_replication_tasks(self, p: dict[str, Any]) -> dict[str, Any]:
        """The DMS ``DescribeReplicationTasks`` operation."""
        getters = {
            "replication-task-arn": lambda t: t.arn,
            "replication-task-id": lambda t: t.identifier,
            "migration-type": lambda t: t.migration_type,
            "endpoint-arn": lambda t: (t.source.arn, t.target.arn),
            "replication-instance-arn": lambda t: t.instance.arn,
        }
        chosen = apply_filters(list(self.tasks.values()), p, getters, "replication tasks")
        for task in chosen:
            if task.status in {"creating", "modifying"}:
                if task.polls_left > 0:
                    task.polls_left -= 1
                else:
                    task.status = "ready" if task.status == "creating" else task.resume_status
        shown = [t.to_api(without_settings=bool(p.get("WithoutSettings"))) for t in chosen]
        return paginate(shown, p, "ReplicationTasks")

    def op_modify_replication_task(self, p: dict[str, Any]) -> dict[str, Any]:
        """The DMS ``ModifyReplicationTask`` operation."""
        task = self.task(p.get("ReplicationTaskArn"))
        if task.status not in _MODIFIABLE:
            raise FakeDmsError(
                "InvalidResourceStateFault",
                "Replication Task, excluding logging severity task settings, cannot be modified while it is "
                f"{task.status} state",
            )
        if p.get("MigrationType") not in (None, task.migration_type):
            raise FakeDmsError("InvalidParameterValueException", "You can't change the migration type of a task")
        if "TableMappings" in p:
            task.mappings = self.check_mappings(p["TableMappings"])
        if "ReplicationTaskSettings" in p:
            task.settings = self._check_settings(p["ReplicationTaskSettings"])
        if p.get("ReplicationTaskIdentifier"):
            task.identifier = check_identifier(p["ReplicationTaskIdentifier"], "ReplicationTaskIdentifier")
        for key, attr in (("CdcStartPosition", "cdc_start_position"), ("CdcStopPosition", "cdc_stop_position")):
            if key in p:
                setattr(task, attr, p[key])
        task.resume_status, task.status, task.polls_left = task.status, "modifying", self.config.modifying_polls
        return {"ReplicationTask": task.to_api()}

    def op_start_replication_task(self, p: dict[str, Any]) -> dict[str, Any]:
        """The DMS ``StartReplicationTask`` operation."""
        task = self.task(p.get("ReplicationTaskArn"))
        check_start(task, p, self.testing(task.instance, [task.source, task.target]))
        start_type = str(p["StartReplicationTaskType"])
        start_position = p.get("CdcStartPosition")
        if p.get("CdcStartTime") is not None:
            start_position = datetime.fromtimestamp(float(p["CdcStartTime"]), UTC).strftime("%Y-%m-%dT%H:%M:%S")
        if start_position:
            task.cdc_start_position = str(start_position)
        if "CdcStopPosition" in p:
            task.cdc_stop_position = p["CdcStopPosition"]
        stop_at, reason = stop_point(task.cdc_stop_position)
        now = self.clock()
        task.runs += 1
        task.status, task.stop_reason, task.failure = "starting", None, None
        task.start_date, task.stop_date, task.started_mono = now, None, time.monotonic()
        if start_type != "resume-processing":
            task.fresh_start = now
        task.cancel = threading.Event()
        seconds = self.run_seconds_for(task.identifier) if self.run_seconds_for else self.config.run_seconds
        target = self.s3_target(task.target)
        plan = RunPlan(
            task, task.runs, start_type, target, stop_at, reason, seconds, task.cancel, start_position or None
        )
        self.runner.start(plan)
        return {"ReplicationTask": task.to_api()}

    def op_stop_replication_task(self, p: dict[str, Any]) -> dict[str, Any]:
        """The DMS ``StopReplicationTask`` operation."""
        task = self.task(p.get("ReplicationTaskArn"))
        if task.status not in {"starting", "running"} or task.cancel is None:
            raise FakeDmsError("InvalidResourceStateFault", "Replication task is not running")
        task.status = "stopping"
        task.cancel.set()
        return {"ReplicationTask": task.to_api()}

    def op_delete_replication_task(self, p: dict[str, Any]) -> dict[str, Any]:
        """The DMS ``DeleteReplicationTask`` operation."""
        task = self.task(p.get("ReplicationTaskArn"))
        if task.status in _BUSY:
            raise FakeDmsError("InvalidResourceStateFault", f"Replication task {task.identifier} is {task.status}")
        del self.tasks[task.arn]
        task.status = "deleting"
        return {"ReplicationTask": task.to_api()}

    def op_describe_table_statistics(self, p: dict[str, Any]) -> dict[str, Any]:
        """The DMS ``DescribeTableStatistics`` operation."""
        require(p, "ReplicationTaskArn")
        task = self.task(p["ReplicationTaskArn"])
        getters = {"schema-name": lambda s: s.schema, "table-name": lambda s: s.table, "table-state": lambda s: s.state}
        stats = sorted(task.tables.values(), key=lambda s: (s.schema, s.table))
        chosen = apply_filters(stats, p, getters, "table statistics")
        page = paginate([s.to_api() for s in chosen], p, "TableStatistics", maximum=500)
        return {"ReplicationTaskArn": task.arn, **page}

"""The AWS DMS replication engine: one DMS task per database and migration type.

``ensure_task`` creates what a database's task needs (its SQL Server source endpoint, its S3
target endpoint, the task), reuses them by identifier, or modifies them when the catalog drifted
(a task only while ``stopped``/``failed``/``ready``), then waits until the connection tests pass.
``start_task`` checks the task's output location against the plan, then starts it the way DMS
requires (reference/dms.md §4): ``start-replication`` the first time, ``reload-target`` to repeat
a full load; a CDC run is bounded by ``CdcStartPosition`` (the saved checkpoint, else the task's
``RecoveryCheckpoint``) and ``CdcStopPosition=server_time:<now>``, so it stops by itself.
``describe_tasks`` makes one paginated ``DescribeReplicationTasks`` per replication instance
(``WithoutSettings``, ``MaxRecords=100``, filtered client-side), never one call per task.
``table_statistics`` checks the output location again (after the run) and pages through
``DescribeTableStatistics``. boto3's DMS waiters are never used (they fail on normal
transitions); every wait here polls with a deadline.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import SecretStr

from sqlfleet.catalog import DatabaseEntry
from sqlfleet.cdc.positions import stop_position
from sqlfleet.dms.mappings import build_table_mappings
from sqlfleet.dms.names import endpoint_identifier, shared_target_endpoint_identifier, task_identifier
from sqlfleet.dms.output_prefix import OutputLocation, location_problems, planned_location
from sqlfleet.dms.placement import EndpointStrategy
from sqlfleet.dms.task_settings import build_task_settings
from sqlfleet.engines.base import MigrationType, StartType, TableStatistics, TaskRef, TaskSpec, TaskStatus
from sqlfleet.engines.dms_api import DmsAlreadyExistsError, DmsApi
from sqlfleet.engines.dms_endpoints import (
    DmsEndpoints,
    EndpointSpec,
    contains,
    source_endpoint_spec,
    target_endpoint_spec,
)
from sqlfleet.engines.dms_tasks import DmsTaskBook, DmsTaskInfo
from sqlfleet.engines.dms_values import table_statistics_from, task_status
from sqlfleet.errors import ConfigError, DeadlineExceededError, OutputPrefixError, ReplicationError
from sqlfleet.pacing import TokenBucket

Clock = Callable[[], datetime]
_SETTLING = frozenset({"creating", "modifying"})
_MODIFIABLE = frozenset({"ready", "stopped", "failed"})


def _utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class DmsEngine:
    """``ReplicationEngine`` on AWS DMS through one shared boto3 client."""

    def __init__(
        self,
        client: Any,
        *,
        entries: Mapping[str, DatabaseEntry],
        instance_for: Callable[[str], str],
        lake_bucket: str,
        lake_prefix: str,
        service_role_arn: str,
        secrets_role_arn: str | None = None,
        password_for: Callable[[str], SecretStr] | None = None,
        strategy: EndpointStrategy = "per-database-endpoint",
        clock: Clock = _utc_now,
        pacing: TokenBucket | None = None,
        poll_interval_seconds: float = 5.0,
        wait_deadline_seconds: float = 900.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.api = DmsApi(client, pacing)
        self.entries = entries  # looked up when a task is ensured
        self.instance_for = instance_for
        self.bucket = lake_bucket
        self.root = lake_prefix.strip("/")
        self.service_role_arn = service_role_arn
        self.secrets_role_arn = secrets_role_arn or service_role_arn
        self.password_for = password_for
        self.strategy: EndpointStrategy = strategy
        self.clock = clock
        self.poll = poll_interval_seconds
        self.deadline = wait_deadline_seconds
        self.sleep = sleep
        self.endpoints = DmsEndpoints(
            self.api, poll_interval_seconds=poll_interval_seconds, deadline_seconds=wait_deadline_seconds, sleep=sleep
        )
        self.tasks = DmsTaskBook(self.api)
        self._lock = threading.Lock()
        self._instances: dict[str, str] = {}

    # -- ReplicationEngine -------------------------------------------------------------------

    def ensure_task(self, spec: TaskSpec) -> TaskRef:
        """Create the database's endpoints and task, reuse them, or modify what drifted; then wait
        until the task is ``ready``/``stopped``/``failed`` and its connections tested ``successful``."""
        entry = self.entries.get(spec.database)
        if entry is None:
            raise ConfigError(f"{spec.database}: not in the catalog the DMS engine was given")
        if entry.source_kind != "mssql":
            raise ConfigError(f"{spec.database}: the DMS engine replicates mssql:// sources, not {entry.source!r}")
        instance_id = self.instance_for(spec.database)
        instance_arn = self._instance_arn(instance_id)
        source_arn, _ = self.endpoints.ensure(self._source_spec(entry))
        target_arn, _ = self.endpoints.ensure(self._target_spec(spec, instance_id))
        self.endpoints.await_connections(instance_arn, [source_arn, target_arn])
        identifier = task_identifier(spec.database, spec.migration_type)
        mappings = build_table_mappings(
            entry, spec.migration_type, strategy=self.strategy, change_seq_column=spec.change_seq_column
        )
        settings = build_task_settings(entry, spec.migration_type)
        current = self.tasks.find(identifier)
        if current is None:
            current = self._create_task(
                identifier,
                spec,
                instance_arn=instance_arn,
                source_arn=source_arn,
                target_arn=target_arn,
                mappings=mappings,
                settings=settings,
            )
        wiring = (current["ReplicationInstanceArn"], current["SourceEndpointArn"], current["TargetEndpointArn"])
        if wiring != (instance_arn, source_arn, target_arn):
            # DMS cannot change a task's endpoints or move it with ModifyReplicationTask.
            raise ReplicationError(
                f"task {identifier} runs on {wiring[0]} with endpoints {wiring[1]} -> {wiring[2]}, the plan says "
                f"{instance_arn} with {source_arn} -> {target_arn}: delete the task (or move it) to recreate it"
            )
        current = self._settle(current)
        if not self._matches(current, mappings, settings):
            if current["Status"] not in _MODIFIABLE:
                raise ReplicationError(
                    f"task {identifier} is {current['Status']}: its mappings or settings changed and DMS modifies "
                    "a task only when it is stopped, failed or ready"
                )
            self.api.call(
                "modify_replication_task",
                ReplicationTaskArn=current["ReplicationTaskArn"],
                TableMappings=mappings,
                ReplicationTaskSettings=settings,
            )
            current = self._settle(self.tasks.describe(str(current["ReplicationTaskArn"])))
        info = DmsTaskInfo(
            arn=str(current["ReplicationTaskArn"]),
            identifier=identifier,
            database=spec.database,
            migration_type=spec.migration_type,
            instance_arn=instance_arn,
            source_arn=source_arn,
            target_arn=target_arn,
            spec=spec,
        )
        self.tasks.remember(info)
        return info.ref()

    def find_task(self, database: str, migration_type: MigrationType) -> TaskRef | None:
        """The database's task for ``migration_type`` if DMS has it (one describe by identifier);
        creates nothing. Verify-only and load-only runs read an earlier run's statistics through it."""
        return self.tasks.lookup(task_identifier(database, migration_type), database, migration_type)

    def start_task(self, task: TaskRef, start_type: StartType) -> None:
        """Check the output location and the connections, then start the task (bounded for CDC)."""
        info = self.tasks.info(task)
        self._check_location(info, "before start")
        self.endpoints.await_connections(info.instance_arn, [info.source_arn, info.target_arn])
        params: dict[str, Any] = {"ReplicationTaskArn": info.arn, "StartReplicationTaskType": start_type}
        if info.migration_type != "full-load":
            spec = info.spec
            params["CdcStopPosition"] = (spec and spec.cdc_stop_position) or stop_position(self.clock())
            start = spec.cdc_start_position if spec else None
            if start is None and start_type == "resume-processing":
                start = self.tasks.describe(info.arn).get("RecoveryCheckpoint") or None
            if start and info.migration_type == "cdc":
                # "For a cdc only task, to start from a specific position, you must use
                # start-replication and also specify the start position" (StartReplicationTask API).
                params |= {"StartReplicationTaskType": "start-replication", "CdcStartPosition": start}
        self.api.call("start_replication_task", **params)

    def describe_tasks(self, tasks: Sequence[TaskRef]) -> Mapping[str, TaskStatus]:
        """One paginated ``DescribeReplicationTasks`` per replication instance for all ``tasks``.

        A task DMS no longer knows (deleted outside sqlfleet) is reported ``failed`` saying so,
        so the one waiting for it stops waiting and the others go on.
        """
        infos = self.tasks.infos(tasks)
        by_instance: dict[str, set[str]] = {}
        for info in infos:
            if info is not None:
                by_instance.setdefault(info.instance_arn, set()).add(info.arn)
        found: dict[str, TaskStatus] = {}
        for instance_arn, arns in by_instance.items():
            for item in self.api.pages(
                "describe_replication_tasks",
                "ReplicationTasks",
                Filters=[{"Name": "replication-instance-arn", "Values": [instance_arn]}],
                MaxRecords=100,
                WithoutSettings=True,
            ):
                if item.get("ReplicationTaskArn") in arns:
                    found[str(item["ReplicationTaskArn"])] = task_status(item)
        return {
            ref.identifier: found.get(ref.arn)
            or TaskStatus(
                identifier=ref.identifier,
                arn=ref.arn,
                status="failed",
                last_failure_message=f"task {ref.identifier} is gone from DMS (deleted outside sqlfleet?)",
            )
            for ref in tasks
        }

    def table_statistics(self, task: TaskRef) -> Sequence[TableStatistics]:
        """The output location, checked again after the run, then every table's statistics."""
        info = self.tasks.info(task)
        self._check_location(info, "after the run")
        rows = self.api.pages(
            "describe_table_statistics",
            "TableStatistics",
            missing_ok=False,
            ReplicationTaskArn=info.arn,
            MaxRecords=500,
        )
        tables = (table_statistics_from(r, shared_endpoint=self.strategy == "shared-endpoint") for r in rows)
        return sorted(tables, key=lambda t: (t.schema_name, t.table_name))

    # -- helpers -----------------------------------------------------------------------------

    def _instance_arn(self, instance: str) -> str:
        if instance.startswith("arn:"):
            return instance
        with self._lock:
            known = self._instances.get(instance)
        if known is not None:
            return known
        found = list(
            self.api.pages(
                "describe_replication_instances",
                "ReplicationInstances",
                Filters=[{"Name": "replication-instance-id", "Values": [instance]}],
            )
        )
        if not found:
            raise ConfigError(f"replication instance {instance!r} does not exist: run `sqlfleet aws apply` first")
        arn = str(found[0]["ReplicationInstanceArn"])
        with self._lock:
            self._instances[instance] = arn
        return arn

    def _source_spec(self, entry: DatabaseEntry) -> EndpointSpec:
        secret = entry.credentials.password_secret if entry.credentials else None
        password = None
        if secret is not None and not secret.startswith("arn:"):
            if self.password_for is None:
                raise ConfigError(f"{entry.name}: password_secret {secret!r} is not a Secrets Manager ARN")
            password = self.password_for(secret)
        return source_endpoint_spec(entry, secrets_role_arn=self.secrets_role_arn, password=password)

    def _target_spec(self, spec: TaskSpec, instance_id: str) -> EndpointSpec:
        return target_endpoint_spec(
            spec,
            self._planned(spec.database),
            identifier=endpoint_identifier(spec.database, "target")
            if self.strategy == "per-database-endpoint"
            else shared_target_endpoint_identifier(instance_id),
            service_role_arn=self.service_role_arn,
        )

    def _planned(self, database: str) -> OutputLocation:
        return planned_location(database, strategy=self.strategy, bucket=self.bucket, root=self.root)

    def _check_location(self, info: DmsTaskInfo, when: str) -> None:
        s3 = self.endpoints.describe(info.target_arn).get("S3Settings") or {}
        mappings = None
        if self.strategy == "shared-endpoint":
            mappings = str(self.tasks.describe(info.arn, with_settings=True).get("TableMappings") or "")
        problems = location_problems(self._planned(info.database), s3, mappings)
        if problems:
            raise OutputPrefixError(
                f"{info.database}: task {info.identifier} output location {when} does not match the plan "
                f"({self._planned(info.database).prefix}): {'; '.join(problems)}. Nothing of {info.database} "
                "is verified or loaded; fix the endpoint (the next run's ensure step does) and check the lake."
            )

    def _create_task(
        self,
        identifier: str,
        spec: TaskSpec,
        *,
        instance_arn: str,
        source_arn: str,
        target_arn: str,
        mappings: str,
        settings: str,
    ) -> dict[str, Any]:
        try:
            created = self.api.call(
                "create_replication_task",
                ReplicationTaskIdentifier=identifier,
                SourceEndpointArn=source_arn,
                TargetEndpointArn=target_arn,
                ReplicationInstanceArn=instance_arn,
                MigrationType=spec.migration_type,
                TableMappings=mappings,
                ReplicationTaskSettings=settings,
                Tags=[{"Key": "sqlfleet:database", "Value": spec.database}],
            )
        except DmsAlreadyExistsError:  # another run created it a moment ago
            found = self.tasks.find(identifier)
            if found is None:
                raise
            return found
        return dict(created["ReplicationTask"])

    def _settle(self, task: dict[str, Any]) -> dict[str, Any]:
        """Poll (with a deadline) until a task is no longer ``creating``/``modifying``."""
        deadline = time.monotonic() + self.deadline
        while task["Status"] in _SETTLING:
            if time.monotonic() >= deadline:
                raise DeadlineExceededError(
                    f"task {task['ReplicationTaskIdentifier']} still {task['Status']} after {self.deadline:.0f} s"
                )
            self.sleep(self.poll)
            task = self.tasks.describe(str(task["ReplicationTaskArn"]), with_settings=True)
        return task

    @staticmethod
    def _matches(task: Mapping[str, Any], mappings: str, settings: str) -> bool:
        """Whether the task's mappings equal the plan's and its settings hold the plan's values."""
        try:
            same_mappings = json.loads(str(task.get("TableMappings") or "null")) == json.loads(mappings)
            actual_settings = json.loads(str(task.get("ReplicationTaskSettings") or "{}"))
        except ValueError:
            return False
        return same_mappings and contains(actual_settings, json.loads(settings))

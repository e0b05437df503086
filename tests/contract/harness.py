"""One way to drive either replication engine in the contract suite, as the fleet flow drives it.

``EngineHarness`` builds a catalog entry and its ``TaskSpec`` the way the plan does, then runs
``ensure_task`` → ``describe_tasks`` → ``choose_start_type`` → ``start_task`` → ``TaskWatcher`` →
``table_statistics``. The embedded engine reads the SQLite file directly; the DMS engine talks to
the fake DMS on a moto server, whose source registry maps ``mssql://sql.fleet.test:1433/<db>`` to
the same SQLite file. Both write into an S3 lake on the same moto server.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sqlfleet.catalog import DatabaseEntry
from sqlfleet.dms.mappings import build_table_mappings
from sqlfleet.dms.names import task_identifier
from sqlfleet.dms.output_prefix import planned_location
from sqlfleet.dms.status import choose_start_type
from sqlfleet.dms.task_settings import build_task_settings
from sqlfleet.engines.base import MigrationType, ReplicationEngine, StartType, TableStatistics, TaskRef, TaskSpec
from sqlfleet.engines.base import TaskStatus as Status
from sqlfleet.engines.dms import DmsEngine
from sqlfleet.engines.dms_api import RETRY_CONFIG
from sqlfleet.engines.dms_endpoints import source_endpoint_spec, target_endpoint_spec
from sqlfleet.engines.local import LocalEngine
from sqlfleet.lake import Lake
from sqlfleet.plan import task_spec_for
from sqlfleet.testing.fake_aws import ACCESS_KEY, SECRET_KEY, FakeAwsServer
from sqlfleet.watch import TaskWatcher

EngineKind = Literal["local", "dms"]
ROLE = "arn:aws:iam::123456789012:role/sqlfleet-dms-s3"
SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:sqlfleet/{name}"
INSTANCES = ("sqlfleet-01", "sqlfleet-02", "sqlfleet-03")
LAKE_ROOT = "lake"


@dataclass
class Run:
    """One run of a task: how it was started and how it ended."""

    ref: TaskRef
    start_type: StartType
    status: Status
    tables: dict[str, TableStatistics]


@dataclass
class EngineHarness:
    """An engine, its lake and the catalog entries it knows, for one test."""

    kind: EngineKind
    bucket: str
    lake: Lake
    aws: FakeAwsServer
    entries: dict[str, DatabaseEntry] = field(default_factory=dict)
    placement: dict[str, str] = field(default_factory=dict)
    #: DMS API calls by operation, counted by botocore ``before-call`` events on the engine's client.
    calls: Counter[str] = field(default_factory=Counter)
    engine: ReplicationEngine | None = None
    dms_client: Any = None

    @classmethod
    def create(cls, kind: EngineKind, aws: FakeAwsServer, bucket: str) -> EngineHarness:
        """An engine of ``kind`` writing into ``s3://<bucket>/lake`` on the fake AWS server."""
        aws.client("s3").create_bucket(Bucket=bucket)
        lake = Lake.from_url(
            f"s3://{bucket}/{LAKE_ROOT}",
            endpoint_url=aws.endpoint_url,
            region=aws.region,
            access_key=ACCESS_KEY,
            secret_key=SECRET_KEY,
        )
        harness = cls(kind=kind, bucket=bucket, lake=lake, aws=aws)
        if kind == "dms":
            client = aws.client("dms", config=RETRY_CONFIG)
            for name in INSTANCES:
                client.create_replication_instance(
                    ReplicationInstanceIdentifier=name, ReplicationInstanceClass="dms.r5.large"
                )
            client.describe_replication_instances()  # provisioning waits for 'available'
        harness.engine = harness.new_engine()
        return harness

    def new_engine(self) -> ReplicationEngine:
        """A new engine of this harness's kind, as a new process would build it: it knows only what
        the lake (embedded engine) or DMS (DMS engine) holds. Becomes ``dms_client`` for DMS."""
        if self.kind == "local":
            return LocalEngine(self.lake, workers=2, batch_rows=1000)
        client = self.aws.client("dms", config=RETRY_CONFIG)
        client.meta.events.register("before-call.database-migration-service", self._count)
        self.dms_client = client
        return DmsEngine(
            client,
            entries=self.entries,
            instance_for=lambda database: self.placement.get(database, INSTANCES[0]),
            lake_bucket=self.bucket,
            lake_prefix=LAKE_ROOT,
            service_role_arn=ROLE,
            poll_interval_seconds=0.01,
            wait_deadline_seconds=30,
        )

    def _count(self, model: Any, **_: Any) -> None:
        self.calls[model.name] += 1

    def spec(
        self,
        name: str,
        source: Path,
        mode: MigrationType = "full-load",
        *,
        max_file_size_kb: int = 1_048_576,
        **options: Any,
    ) -> TaskSpec:
        """Add ``name`` to the catalog (reading ``source``) and return its task spec for ``mode``."""
        values: dict[str, Any] = {"name": name, "enabled": True, **options}
        if self.kind == "local":
            values["source"] = f"sqlite:///{source}"
        else:
            self.aws.dms.register_source(name, source)
            values["source"] = f"mssql://sql.fleet.test:1433/{name}"
            values["credentials"] = {"username": "dms_user", "password_secret": SECRET.format(name=name)}
        entry = DatabaseEntry.model_validate(values)
        self.entries[name] = entry
        return task_spec_for(entry, mode, max_file_size_kb=max_file_size_kb, timestamp_column="_dms_ts")

    @property
    def the_engine(self) -> ReplicationEngine:
        """The engine (always set once created)."""
        assert self.engine is not None
        return self.engine

    def ensure_and_start(self, spec: TaskSpec) -> tuple[TaskRef, StartType]:
        """What ``replicate_database`` does before it waits."""
        engine = self.the_engine
        ref = engine.ensure_task(spec)
        start_type = choose_start_type(engine.describe_tasks([ref])[ref.identifier].status, spec.migration_type)
        engine.start_task(ref, start_type)
        return ref, start_type

    def finish(self, ref: TaskRef, start_type: StartType, watcher: TaskWatcher) -> Run:
        """Wait for the task and read its table statistics."""
        status = watcher.wait_for_task(ref, deadline_seconds=60)
        tables = {f"{t.schema_name}.{t.table_name}": t for t in self.the_engine.table_statistics(ref)}
        return Run(ref, start_type, status, tables)

    def run(self, spec: TaskSpec) -> Run:
        """One full replicate step of one database."""
        ref, start_type = self.ensure_and_start(spec)
        return self.finish(ref, start_type, TaskWatcher(self.the_engine, interval_seconds=0.02))

    def seed_started_tasks(self, specs: list[TaskSpec]) -> list[TaskRef]:
        """Create and start the tasks of ``specs`` directly in the fake DMS, as an earlier process
        (or ``sqlfleet aws apply``) would have: the engine under test has never seen them.

        Endpoints get exactly the settings ``DmsEngine`` would give them, so the runs write where
        the engine expects.
        """
        assert self.kind == "dms"
        dms = self.aws.dms
        refs = []
        for spec in specs:
            entry = self.entries[spec.database]
            source = source_endpoint_spec(entry, secrets_role_arn=ROLE, password=None)
            planned = planned_location(
                spec.database, strategy="per-database-endpoint", bucket=self.bucket, root=LAKE_ROOT
            )
            target = target_endpoint_spec(spec, planned, identifier=f"{spec.database}-target", service_role_arn=ROLE)
            arns = [
                dms.handle("CreateEndpoint", e.create_params())["Endpoint"]["EndpointArn"] for e in (source, target)
            ]
            instance = self.placement.get(spec.database, INSTANCES[0])
            instance_arn = dms.handle(
                "DescribeReplicationInstances", {"Filters": [{"Name": "replication-instance-id", "Values": [instance]}]}
            )["ReplicationInstances"][0]["ReplicationInstanceArn"]
            task = dms.handle(
                "CreateReplicationTask",
                {
                    "ReplicationTaskIdentifier": task_identifier(spec.database, spec.migration_type),
                    "SourceEndpointArn": arns[0],
                    "TargetEndpointArn": arns[1],
                    "ReplicationInstanceArn": instance_arn,
                    "MigrationType": spec.migration_type,
                    "TableMappings": build_table_mappings(entry, spec.migration_type),
                    "ReplicationTaskSettings": build_task_settings(entry, spec.migration_type),
                },
            )["ReplicationTask"]
            filters = {"Filters": [{"Name": "replication-task-arn", "Values": [task["ReplicationTaskArn"]]}]}
            while dms.handle("DescribeReplicationTasks", filters)["ReplicationTasks"][0]["Status"] != "ready":
                pass
            dms.handle(
                "StartReplicationTask",
                {"ReplicationTaskArn": task["ReplicationTaskArn"], "StartReplicationTaskType": "start-replication"},
            )
            refs.append(
                TaskRef(
                    identifier=task["ReplicationTaskIdentifier"],
                    database=spec.database,
                    migration_type=spec.migration_type,
                    arn=task["ReplicationTaskArn"],
                )
            )
        return refs

    def keys(self, database: str) -> list[str]:
        """Every lake key of ``database``, relative to the lake root."""
        return [o.key for o in self.lake.list(f"{database}/")]

"""A faithful fake of AWS DMS for tests, benchmarks and offline end-to-end runs (a test double).

**Why a standalone fake and not a patched moto backend.** moto 5.2.5 implements the *shape* of
18 DMS operations and diverges from DMS on nearly every behaviour sqlfleet relies on (tasks never
leave ``creating``/``running``, no ``Marker``, no state checks, duplicate endpoint identifiers
silently replaced, no ``ModifyEndpoint``/``DescribeTableStatistics``; reference/dms.md §7).
Extending it would mean overriding almost every task and endpoint method while depending on
moto's private internals (``BackendDict``, ``ManagedState``, its response dispatch), which change
between releases. This fake owns its state machine and speaks only the public wire protocol
(awsJson1.1, ``X-Amz-Target: AmazonDMSv20160101.<Operation>``), which is stable. ``FakeAwsServer``
(``sqlfleet.testing.fake_aws``) serves it on the same port as moto, so S3 (the lake), IAM and
the fake DMS share one ``endpoint_url``.

What it models (reference/dms.md §4-5, §7): the task lifecycle (``fake_dms_tasks``), table
statistics, ``Marker`` pagination with the documented ``MaxRecords`` bounds,
``ResourceNotFoundFault`` for unknown ARNs and filters matching nothing,
``ResourceAlreadyExistsFault`` for taken identifiers, ``InvalidResourceStateFault`` state checks,
``ModifyEndpoint`` with its implicit connection test, ``TestConnection``/``DescribeConnections``,
account quotas (``ResourceQuotaExceededFault``, ``DescribeAccountAttributes``) and throttling on
demand: a configurable fraction of calls answer ``ThrottlingException: Rate exceeded``.

Its data plane (``fake_dms_data``) reads a registered SQLite file for each SQL Server source
endpoint and writes DMS-layout Parquet into the target endpoint's bucket and folder with the
embedded engine's writer, so verify and load run unchanged on its output.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlfleet.testing.fake_dms_data import LakeWriter, S3Target, SqliteSource, parse_table_mappings
from sqlfleet.testing.fake_dms_resources import ResourceOperations
from sqlfleet.testing.fake_dms_state import ArnMaker, Clock, Endpoint, FakeDmsError, utc_now
from sqlfleet.testing.fake_dms_task_ops import TaskOperations
from sqlfleet.testing.fake_dms_tasks import TaskRunner

DMS_TARGET_PREFIX = "AmazonDMSv20160101."
DEFAULT_QUOTAS = {
    "ReplicationInstances": 60,
    "AllocatedStorage": 30_000,
    "Endpoints": 1_000,
    "ReplicationTasks": 600,
    "EndpointsPerInstance": 100,
    "TasksPerInstance": 200,
}


@dataclass
class FakeDmsConfig:
    """Timing, quotas and failure injection of a ``FakeDms``.

    Lifecycle steps are counted in describe calls (``creating_polls``: how many
    ``DescribeReplicationTasks`` still show a new task ``creating``), so tests are deterministic
    and an engine that skips waiting is caught. ``step_seconds`` paces a run's steps;
    ``run_seconds`` keeps every run going at least that long (a watcher sees it ``running``).
    """

    region: str = "us-east-1"
    account_id: str = "123456789012"
    step_seconds: float = 0.0
    run_seconds: float = 0.0
    creating_polls: int = 1
    modifying_polls: int = 1
    connection_test_polls: int = 1
    throttle_fraction: float = 0.0
    throttle_seed: int = 0
    throttle_operations: frozenset[str] | None = None
    quotas: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_QUOTAS))
    seed: int = 7


class FakeDms(ResourceOperations, TaskOperations):
    """The fake DMS service: ``handle(operation, params)`` and a WSGI entry point (``__call__``)."""

    def __init__(
        self, config: FakeDmsConfig | None = None, *, writer: LakeWriter | None = None, clock: Clock = utc_now
    ):
        self.config = config or FakeDmsConfig()
        self.writer = writer
        self.clock = clock
        self.lock = threading.RLock()
        self.arns = ArnMaker(self.config.region, self.config.account_id, self.config.seed)
        self.runner = TaskRunner(self)
        self.calls: Counter[str] = Counter()
        self.throttled: Counter[str] = Counter()
        self.internal_errors: list[str] = []
        #: Per-task run length (seconds) by task identifier; overrides ``config.run_seconds``.
        self.run_seconds_for: Callable[[str], float] | None = None
        self._rng = random.Random(self.config.throttle_seed)
        self._sources: dict[str, tuple[str | None, SqliteSource]] = {}
        self._lsn = 0
        self.init_resources()
        self.init_tasks()

    # -- control surface for tests ----------------------------------------------------------

    def register_source(
        self, database: str, path: Path | str, *, server: str | None = None, default_schema: str = "dbo"
    ) -> None:
        """Make SQL Server database ``database`` (on ``server``, if given) read from the SQLite file ``path``.

        Endpoints using Secrets Manager carry no server name, so they match on the database alone.
        """
        self._sources[database.casefold()] = (
            server.casefold() if server else None,
            SqliteSource(Path(path), default_schema),
        )

    def throttle(self, fraction: float, *, seed: int = 0, operations: Iterable[str] | None = None) -> None:
        """Answer ``fraction`` of calls (of ``operations``, default all) with ``ThrottlingException``."""
        if not 0 <= fraction < 1:
            raise ValueError(f"throttle fraction must be in [0, 1), got {fraction}")
        with self.lock:
            self.config.throttle_fraction = fraction
            self.config.throttle_operations = frozenset(operations) if operations is not None else None
            self._rng = random.Random(seed)

    def wait_for_runs(self, timeout: float = 30.0) -> None:
        """Block until no task run thread is alive (test teardown); ``TimeoutError`` past ``timeout``."""
        deadline = time.monotonic() + timeout
        for task in list(self.tasks.values()):
            thread = task.thread
            if thread is not None:
                thread.join(max(0.0, deadline - time.monotonic()))
                if thread.is_alive():
                    raise TimeoutError(f"task {task.identifier} is still running")

    # -- hooks used by the operations and the runner -----------------------------------------

    def resolve_source(self, endpoint: Endpoint) -> SqliteSource | None:
        """The registered SQLite source a SQL Server endpoint points at, if it exists."""
        sql = endpoint.settings.get("MicrosoftSQLServerSettings") or {}
        server = str(endpoint.settings.get("ServerName") or sql.get("ServerName") or "")
        database = str(endpoint.settings.get("DatabaseName") or sql.get("DatabaseName") or "")
        found = self._sources.get(database.casefold())
        if found is None or (found[0] and server and found[0] != server.casefold()):
            return None
        return found[1] if found[1].path.is_file() else None

    def s3_target(self, endpoint: Endpoint) -> S3Target:
        """The target endpoint's S3 settings as a run uses them."""
        s3 = endpoint.settings.get("S3Settings") or {}
        return S3Target(
            bucket=str(s3.get("BucketName", "")),
            folder=str(s3.get("BucketFolder", "")),
            timestamp_column=str(s3.get("TimestampColumnName") or "_dms_ts"),
            max_file_size_kb=int(s3.get("MaxFileSize") or 1_048_576),
        )

    def connection_result(self, endpoint: Endpoint) -> tuple[str, str | None]:
        """What a connection test of ``endpoint`` ends with: ``successful`` or ``failed`` and why."""
        if endpoint.engine == "s3":
            bucket = self.s3_target(endpoint).bucket
            if self.writer is not None and not self.writer.bucket_exists(bucket):
                return "failed", f"Test connection failed: S3 bucket {bucket!r} does not exist"
            return "successful", None
        if endpoint.engine == "sqlserver" and self.resolve_source(endpoint) is None:
            return "failed", "Test connection failed: cannot connect to the SQL Server database (not registered)"
        return "successful", None

    def next_checkpoint(self, run: int) -> str:
        """An opaque, increasing ``RecoveryCheckpoint`` (a SQL Server LSN inside, like DMS's)."""
        self._lsn += 1
        return f"checkpoint:V1#{run}#{self._lsn:08X}:{0:08X}:0001#0#0#*#0#0"

    def check_mappings(self, text: object) -> str:
        """``TableMappings`` that parse, or ``InvalidParameterValueException``."""
        try:
            parse_table_mappings(str(text))
        except ValueError as exc:
            raise FakeDmsError("InvalidParameterValueException", str(exc)) from None
        return str(text)

    # -- protocol ------------------------------------------------------------------------------

    def handle(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """Run one API operation; raises ``FakeDmsError`` for an error response."""
        method = getattr(self, f"op_{_snake(operation)}", None)
        with self.lock:
            self.calls[operation] += 1
            wanted = self.config.throttle_operations
            chosen = wanted is None or operation in wanted
            if chosen and self.config.throttle_fraction and self._rng.random() < self.config.throttle_fraction:
                self.throttled[operation] += 1
                raise FakeDmsError("ThrottlingException", "Rate exceeded")
            if method is None:
                raise FakeDmsError("InvalidAction", f"the fake DMS does not implement {operation}")
            result: dict[str, Any] = method(params)
            return result

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        """WSGI: one awsJson1.1 request in, one response out."""
        operation = str(environ.get("HTTP_X_AMZ_TARGET", "")).removeprefix(DMS_TARGET_PREFIX)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        status = "200 OK"
        try:
            params = json.loads(environ["wsgi.input"].read(length) or b"{}")
            payload: dict[str, Any] = self.handle(operation, params)
        except FakeDmsError as fault:
            status = f"{fault.status} {'Bad Request' if fault.status < 500 else 'Internal Server Error'}"
            payload = {"__type": fault.code, "message": fault.message}
        except Exception as exc:  # the fake's own bug: say so loudly instead of hanging a test
            self.internal_errors.append(f"{operation}: {type(exc).__name__}: {exc}")
            status, payload = "500 Internal Server Error", {"__type": "InternalFailure", "message": str(exc)}
        body = json.dumps(payload).encode()
        start_response(
            status,
            [
                ("Content-Type", "application/x-amz-json-1.1"),
                ("Content-Length", str(len(body))),
                ("x-amzn-RequestId", str(uuid.uuid4())),
            ],
        )
        return [body]


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")

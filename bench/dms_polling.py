"""DMS polling benchmark: API calls to watch 250 running tasks, batched poller against naive, same run.

250 databases on 3 replication instances (120 / 80 / 50, so one instance needs two pages of
100), their tasks ensured by ``DmsEngine`` on the fake DMS (``sqlfleet.testing``), then run twice
with the same durations (staggered, 20-24 s, polled every 2 s):

- **batched**: ``TaskWatcher`` + ``DmsEngine.describe_tasks``: one ``DescribeReplicationTasks`` per
  instance per poll cycle, ``MaxRecords=100`` pages, ``WithoutSettings=True``;
- **naive** (the baseline): one ``DescribeReplicationTasks`` per running task ARN per cycle, what
  the public samples do (reference/dms.md §8).

Calls are counted client-side with botocore ``before-parameter-build`` events, by thread (only
the watching), and attributed to instances from their filters. Both sides poll every
``INTERVAL`` seconds. Targets: at most ceil(tasks/100) calls per instance per cycle, and fewer
than 1/50 of the naive count over the run.
"""

from __future__ import annotations

import argparse
import math
import sqlite3
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.results import Figure, format_table, print_table, record
from sqlfleet.catalog import DatabaseEntry
from sqlfleet.engines.base import TaskRef
from sqlfleet.engines.dms import DmsEngine
from sqlfleet.engines.dms_api import RETRY_CONFIG
from sqlfleet.plan import task_spec_for
from sqlfleet.testing.fake_aws import FakeAwsServer
from sqlfleet.testing.fake_dms import FakeDmsConfig
from sqlfleet.watch import TaskWatcher

TASKS_PER_INSTANCE = {"sqlfleet-01": 120, "sqlfleet-02": 80, "sqlfleet-03": 50}
INTERVAL = 2.0
ROLE = "arn:aws:iam::123456789012:role/sqlfleet-dms-s3"
SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:bench/{name}"
MAX_NAIVE_RATIO = 1 / 50


class CallCounter:
    """``DescribeReplicationTasks`` calls made by one thread, per poll cycle and per instance."""

    def __init__(self, thread_name: str) -> None:
        self.thread_name = thread_name
        self.cycles: list[Counter[str]] = [Counter()]

    def __call__(self, params: dict[str, Any], **_: Any) -> None:
        if threading.current_thread().name != self.thread_name:
            return
        filters = {f["Name"]: f["Values"] for f in params.get("Filters", [])}
        key = filters["replication-instance-arn"][0] if "replication-instance-arn" in filters else "per-task"
        self.cycles[-1][key] += 1

    def next_cycle(self, *_: Any) -> None:
        """Close the current cycle (``TaskWatcher.on_poll``)."""
        self.cycles.append(Counter())

    @property
    def done(self) -> list[Counter[str]]:
        """Cycles that made calls."""
        return [c for c in self.cycles if c]


def _source(folder: Path) -> Path:
    path = folder / "tiny.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE t (id int NOT NULL PRIMARY KEY, v nvarchar(10))")
    con.executemany("INSERT INTO t VALUES (?, ?)", [(i, f"v{i}") for i in range(3)])
    con.commit()
    con.close()
    return path


def _setup(aws: FakeAwsServer, folder: Path) -> tuple[DmsEngine, Any, list[TaskRef], dict[str, str]]:
    """250 databases, their endpoints and ``full-load`` tasks, ensured by the engine."""
    source = _source(folder)
    aws.client("s3").create_bucket(Bucket="bench-lake")
    client = aws.client("dms", config=RETRY_CONFIG)
    arns = {
        name: client.create_replication_instance(
            ReplicationInstanceIdentifier=name, ReplicationInstanceClass="dms.r5.large"
        )["ReplicationInstance"]["ReplicationInstanceArn"]
        for name in TASKS_PER_INSTANCE
    }
    client.describe_replication_instances()
    aws.dms.config.quotas["EndpointsPerInstance"] = 300  # >50 databases per instance: a raised quota
    placement = {
        f"db{i:03d}": instance for i, instance in enumerate(n for n, k in TASKS_PER_INSTANCE.items() for _ in range(k))
    }
    entries: dict[str, DatabaseEntry] = {}
    for name in placement:
        aws.dms.register_source(name, source)
        entries[name] = DatabaseEntry.model_validate(
            {
                "name": name,
                "enabled": True,
                "source": f"mssql://sql.bench.test:1433/{name}",
                "credentials": {"username": "dms_user", "password_secret": SECRET.format(name=name)},
            }
        )
    engine = DmsEngine(
        client,
        entries=entries,
        instance_for=placement.__getitem__,
        lake_bucket="bench-lake",
        lake_prefix="lake",
        service_role_arn=ROLE,
        poll_interval_seconds=0.01,
    )
    specs = [
        task_spec_for(e, "full-load", max_file_size_kb=1_048_576, timestamp_column="_dms_ts") for e in entries.values()
    ]
    with ThreadPoolExecutor(max_workers=8) as pool:
        refs = list(pool.map(engine.ensure_task, specs))
    by_arn = {arns[instance]: instance for instance in TASKS_PER_INSTANCE}
    return engine, client, refs, by_arn


def _start_all(engine: DmsEngine, refs: Sequence[TaskRef], start_type: str) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda r: engine.start_task(r, start_type), refs))  # type: ignore[arg-type]


def _watch_batched(engine: DmsEngine, client: Any, refs: Sequence[TaskRef]) -> CallCounter:
    counter = CallCounter("sqlfleet-task-watcher")
    event = "before-parameter-build.database-migration-service.DescribeReplicationTasks"
    client.meta.events.register(event, counter)
    watcher = TaskWatcher(engine, interval_seconds=INTERVAL, on_poll=counter.next_cycle)
    try:
        with ThreadPoolExecutor(max_workers=len(refs)) as pool:
            statuses = list(pool.map(lambda r: watcher.wait_for_task(r, deadline_seconds=300), refs))
    finally:
        client.meta.events.unregister(event, counter)
    if {s.status for s in statuses} != {"stopped"}:
        raise SystemExit(f"batched: not every task stopped: {Counter(s.status for s in statuses)}")
    return counter


def _watch_naive(client: Any, refs: Sequence[TaskRef]) -> CallCounter:
    """The baseline: every cycle, describe each running task by its ARN."""
    counter = CallCounter(threading.current_thread().name)
    event = "before-parameter-build.database-migration-service.DescribeReplicationTasks"
    client.meta.events.register(event, counter)
    running = {r.arn for r in refs}
    deadline = time.monotonic() + 300
    try:
        while running and time.monotonic() < deadline:
            began = time.monotonic()
            for arn in sorted(running):
                task = client.describe_replication_tasks(
                    Filters=[{"Name": "replication-task-arn", "Values": [arn]}], WithoutSettings=True
                )["ReplicationTasks"][0]
                if task["Status"] in {"stopped", "failed"}:
                    running.discard(arn)
            counter.next_cycle()
            time.sleep(max(0.0, INTERVAL - (time.monotonic() - began)))
    finally:
        client.meta.events.unregister(event, counter)
    if running:
        raise SystemExit(f"naive: {len(running)} tasks still running at the deadline")
    return counter


def run_benchmark() -> dict[str, Figure]:
    """Set up, run both sides, report and record."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-dms-") as tmp, FakeAwsServer(FakeDmsConfig()) as aws:
        engine, client, refs, instance_of = _setup(aws, Path(tmp))
        # A fleet run's tasks last many poll cycles; the last ones end within two cycles here.
        durations = {r.identifier: 20.0 + (i % 9) * 0.5 for i, r in enumerate(refs)}
        aws.dms.run_seconds_for = durations.__getitem__
        print(
            f"setup: {len(refs)} tasks on {len(TASKS_PER_INSTANCE)} instances in {time.perf_counter() - started:.1f} s"
        )
        _start_all(engine, refs, "start-replication")
        batched = _watch_batched(engine, client, refs)
        _start_all(engine, refs, "reload-target")
        naive = _watch_naive(client, refs)
    ceilings = {arn: math.ceil(TASKS_PER_INSTANCE[name] / 100) for arn, name in instance_of.items()}
    per_instance_ok = all(c[arn] <= ceilings[arn] for c in batched.done for arn in ceilings)
    batched_total = sum(sum(c.values()) for c in batched.done)
    naive_total = sum(sum(c.values()) for c in naive.done)
    batched_max = max(sum(c.values()) for c in batched.done)
    naive_max = max(sum(c.values()) for c in naive.done)
    rows = [
        (str(i), *(str(c[arn]) for arn in instance_of), str(c["per-task"]), str(sum(c.values())))
        for i, c in enumerate(batched.done, start=1)
    ]
    print("\nbatched poller, DescribeReplicationTasks per cycle")
    print(format_table(rows, ("cycle", *instance_of.values(), "task lookups", "total")))
    print(f"\nnaive loop: {len(naive.done)} cycles, {naive_total} calls ({naive_max} in the busiest cycle)")
    ratio = batched_total / naive_total
    figures = {
        "dms_polling_calls_per_cycle": Figure(
            float(batched_max),
            "calls/cycle",
            float(naive_max),
            batched_max / naive_max,
            f"≤ ceil(tasks/100) per instance ({sum(ceilings.values())} a cycle)",
            per_instance_ok,
        ),
        "dms_polling_calls_per_run": Figure(
            float(batched_total),
            "calls",
            float(naive_total),
            ratio,
            f"< {MAX_NAIVE_RATIO:.2f}",
            ratio < MAX_NAIVE_RATIO,
        ),
    }
    print_table(figures, title=f"DMS polling figures (250 tasks, 3 instances, {INTERVAL:.0f} s cycles)")
    record(figures)
    print(f"\nwhole benchmark: {time.perf_counter() - started:.1f} s wall")
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; exit code 1 if a figure misses its target."""
    argparse.ArgumentParser(prog="python -m bench.dms_polling", description=__doc__.split("\n")[0]).parse_args(argv)
    figures = run_benchmark()
    return 0 if all(f.passed is not False for f in figures.values()) else 1


if __name__ == "__main__":
    import sys

    sys.exit(main())

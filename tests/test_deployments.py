"""``prefect.yaml`` deploys to a Prefect server, and a deployment runs through a process worker."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from uuid import UUID

import pytest

from sqlfleet.catalog import render_catalog
from tests.test_fleet_flow import make_small, warehouse_counts

pytestmark = [pytest.mark.usefixtures("prefect_server"), pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
PREFECT = str(Path(sys.executable).with_name("prefect"))
DEPLOYMENTS = {
    "sqlfleet-fleet/nightly-full-load",
    "sqlfleet-fleet/hourly-delta",
    "sqlfleet-onboard/onboard",
    "sqlfleet-verify/verify-only",
    "sqlfleet-load/load-only",
}


def stop_worker(worker: subprocess.Popen[bytes]) -> None:
    """SIGINT twice (a process worker ignores the first while it winds down), then kill."""
    for _ in range(2):
        if worker.poll() is not None:
            return
        worker.send_signal(signal.SIGINT)
        try:
            worker.wait(timeout=10)
        except subprocess.TimeoutExpired:
            continue
    if worker.poll() is None:
        worker.kill()
        worker.wait()


def test_the_deployments_deploy_and_onboarding_runs_through_a_worker(tmp_path: Path) -> None:
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL

    from deployments.setup import FLEET_QUEUE, WORK_POOL, setup
    from sqlfleet.settings import Settings

    (tmp_path / "sources").mkdir()
    make_small(tmp_path / "sources" / "newcomer.db", 25)
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(
        render_catalog([{"name": "newcomer", "enabled": False, "source": "sqlite:///sources/newcomer.db"}])
    )
    setup(Settings(), ["local"])  # what `sqlfleet prefect setup` does
    env = {
        **os.environ,
        "PREFECT_API_URL": str(PREFECT_API_URL.value()),
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PWD": str(ROOT),  # prefect.yaml's pull step: `{{ $PWD }}`, resolved when deploying
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "SQLFLEET_LAKE_URL": f"file://{tmp_path / 'lake'}",
        "SQLFLEET_WAREHOUSE_URL": f"duckdb:///{tmp_path / 'warehouse.duckdb'}",
        "SQLFLEET_POLL_INTERVAL_SECONDS": "0.05",
    }
    deployed = subprocess.run(
        [PREFECT, "--no-prompt", "deploy", "--all"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert deployed.returncode == 0, deployed.stdout[-3000:] + deployed.stderr[-3000:]

    with get_client(sync_client=True) as client:
        found = {f"{client.read_flow(d.flow_id).name}/{d.name}": d for d in client.read_deployments()}
        assert set(found) >= DEPLOYMENTS
        nightly, hourly = found["sqlfleet-fleet/nightly-full-load"], found["sqlfleet-fleet/hourly-delta"]
        assert [(s.schedule.cron, s.schedule.timezone) for s in nightly.schedules] == [("0 2 * * *", "Europe/Berlin")]  # type: ignore[union-attr]
        assert hourly.parameters["mode"] == "cdc" and hourly.work_queue_name == FLEET_QUEUE
        assert nightly.work_pool_name == WORK_POOL and nightly.work_queue_name == FLEET_QUEUE
        assert nightly.global_concurrency_limit is not None and nightly.global_concurrency_limit.limit == 1
        assert client.read_work_queue_by_name(FLEET_QUEUE, work_pool_name=WORK_POOL).concurrency_limit == 1

    worker = subprocess.Popen(
        [PREFECT, "worker", "start", "--pool", WORK_POOL, "--work-queue", "default", "--limit", "1"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        began = time.monotonic()
        run = subprocess.run(
            [
                PREFECT,
                "deployment",
                "run",
                "sqlfleet-onboard/onboard",
                "--param",
                "database=newcomer",
                "--param",
                f"catalog_path={catalog}",
                "--watch",
                "--watch-interval",
                "1",
                "--watch-timeout",
                "150",
            ],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=200,
            check=False,
        )
        seconds = time.monotonic() - began
    finally:
        stop_worker(worker)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    (run_id,) = re.findall(r"UUID: ([0-9a-f-]{36})", run.stdout)
    with get_client(sync_client=True) as client:
        state = client.read_flow_run(UUID(run_id)).state
    assert state is not None and state.is_completed()
    assert state.message == "1/1 databases replicated, verified and loaded (full-load)"
    assert warehouse_counts(tmp_path) == {"newcomer.Customer": 25, "newcomer.order_line": 75}
    assert seconds < 120

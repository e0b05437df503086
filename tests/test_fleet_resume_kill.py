"""A fleet run killed mid-way resumes under its run key: every database ends loaded exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sqlfleet import layout
from sqlfleet.catalog import render_catalog
from sqlfleet.engines.local_state import TaskStateStore
from sqlfleet.lake import Lake
from sqlfleet.run_journal import RunJournal
from tests.fleet_support import manifest_batches
from tests.test_fleet_flow import make_small, warehouse_counts

pytestmark = pytest.mark.usefixtures("prefect_server")

NAMES = [f"db{i}" for i in range(8)]
ROWS = 400


def finished(lake: Lake, run_key: str) -> list[str]:
    return sorted(
        o.key.split("/")[3] for o in lake.list(layout.run_prefix(run_key)) if o.key.endswith("/finished.json")
    )


def test_killing_the_flow_process_and_rerunning_the_key_loads_every_database_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.settings import PREFECT_API_URL

    from flows.fleet import fleet_run

    (tmp_path / "sources").mkdir()
    for name in NAMES:
        make_small(tmp_path / "sources" / f"{name}.db", ROWS)
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(
        render_catalog([{"name": n, "enabled": True, "source": f"sqlite:///sources/{n}.db"} for n in NAMES])
    )
    settings = {
        "SQLFLEET_LAKE_URL": f"file://{tmp_path / 'lake'}",
        "SQLFLEET_WAREHOUSE_URL": f"duckdb:///{tmp_path / 'warehouse.duckdb'}",
        "SQLFLEET_ENABLED_VARIABLE": f"sqlfleet_enabled_{tmp_path.name.lower()[-20:]}",
        "SQLFLEET_POLL_INTERVAL_SECONDS": "0.05",
        # One database at a time, so the kill lands between databases' steps and the dead run
        # holds at most one slot of each limit (its leases run out after a minute).
        "SQLFLEET_DATABASE_CONCURRENCY": "1",
        "SQLFLEET_LIMIT_LEASE_SECONDS": "60",
    }
    env = {**os.environ, **settings, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    command = [sys.executable, "-m", "sqlfleet", "run", "--catalog", str(catalog), "--run-key", "killed"]
    lake = Lake.from_url(settings["SQLFLEET_LAKE_URL"])
    process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and process.poll() is None and len(finished(lake, "killed")) < 3:
            time.sleep(0.05)
        assert process.poll() is None, f"the run ended before it could be killed:\n{process.stdout.read()[-3000:]}"  # type: ignore[union-attr]
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    before = {name: r.finished for name, r in RunJournal(lake, "killed", "full-load", "x").read().items()}
    done_before = sorted(name for name, record in before.items() if record is not None)
    assert 3 <= len(done_before) < len(NAMES)
    assert all(before[name].status == "succeeded" for name in done_before)  # type: ignore[union-attr]

    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SQLFLEET_DATABASE_CONCURRENCY")
    rerun = fleet_run(catalog_path=str(catalog), run_key="killed", return_state=True)
    assert rerun.is_completed(), rerun.message
    assert f"{len(done_before)} of them loaded earlier under run key killed" in (rerun.message or "")

    assert finished(lake, "killed") == NAMES
    batches = manifest_batches(tmp_path / "warehouse.duckdb")
    store = TaskStateStore(lake)
    for name in done_before:
        # Loaded once, by the killed run: the rerun neither replicated nor loaded it again.
        assert batches[name] == {before[name].batch_id}, name  # type: ignore[union-attr]
        assert store.read(f"{name}-full").runs == 1  # type: ignore[union-attr]
    counts = warehouse_counts(tmp_path)
    assert {n: (counts[f"{n}.Customer"], counts[f"{n}.order_line"]) for n in NAMES} == dict.fromkeys(
        NAMES, (ROWS, 3 * ROWS)
    )

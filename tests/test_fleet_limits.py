"""The global concurrency limits hold: across concurrent flow runs, and the fleet refuses to run without them."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import pytest
from prefect.states import State

from sqlfleet.settings import Settings
from sqlfleet.testing.instant import InstantEngine
from tests.fleet_support import ENGINES, STARTS, create_limit, probe_fleet, tiny_fleet

pytestmark = pytest.mark.usefixtures("prefect_server")


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SQLFLEET_LAKE_URL", f"file://{tmp_path / 'lake'}")
    monkeypatch.setenv("SQLFLEET_ENABLED_VARIABLE", f"sqlfleet_enabled_{tmp_path.name.lower()[-20:]}")
    monkeypatch.setenv("SQLFLEET_POLL_INTERVAL_SECONDS", "0.05")
    return tmp_path


def test_the_engine_limit_holds_across_two_concurrent_runs(env: Path) -> None:
    from sqlfleet.limits import engine_limit_name

    instance = f"probe-{uuid.uuid4().hex[:8]}"
    create_limit(engine_limit_name(instance), 2)
    engine = InstantEngine(tables=3, duration_seconds=0.5, instance=instance)
    ENGINES[instance] = engine
    STARTS[instance] = threading.Barrier(2, timeout=60)
    runs: dict[str, State] = {}

    def one(run: str) -> None:
        names = [f"{run}_{i}" for i in range(6)]
        catalog = tiny_fleet(env / run, names)
        runs[run] = probe_fleet(str(catalog), instance, f"limits-{run}", str(env / f"{run}.duckdb"), return_state=True)

    # Both runs start together. Each alone runs 2 at once (what the limit allows); together,
    # without a global limit, 4 would run. The limit keeps the total at 2.
    threads = [threading.Thread(target=one, args=(run,)) for run in ("left", "right")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
    assert {run: state.is_completed() for run, state in runs.items()} == {"left": True, "right": True}
    assert engine.starts() == 12
    assert engine.most_running() == 2


def test_a_missing_limit_fails_the_run_before_anything_starts(env: Path) -> None:
    instance = f"unlimited-{uuid.uuid4().hex[:8]}"
    engine = InstantEngine(tables=1, instance=instance)
    ENGINES[instance] = engine
    catalog = tiny_fleet(env / "fleet", ["solo"])
    state = probe_fleet(str(catalog), instance, "limits-missing", str(env / "w.duckdb"), return_state=True)
    assert state.is_failed()
    with pytest.raises(Exception, match=r"missing: sqlfleet-engine-unlimited-.*sqlfleet prefect setup"):
        state.result()
    assert engine.starts() == 0
    assert Settings().limit_lease_seconds >= 60  # Prefect refuses shorter leases


def test_the_setup_command_gives_each_named_instance_a_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from sqlfleet.cli import app

    monkeypatch.delenv("PREFECT_API_URL", raising=False)  # the session server comes from the settings
    monkeypatch.setenv("SQLFLEET_PREFECT_PORT", "1")  # no local server to find there
    result = CliRunner().invoke(app, ["prefect", "setup", "--dry-run", "--instance", "ri-cli-1"])
    assert result.exit_code == 0, result.output
    assert "would create global concurrency limit sqlfleet-engine-ri-cli-1 = 4" in result.output

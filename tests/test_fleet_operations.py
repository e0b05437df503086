"""Verify-only and load-only runs, and the alerts of a failed database: its event and the notifications."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sqlfleet.catalog import render_catalog
from sqlfleet.engines.local_state import TaskStateStore
from sqlfleet.lake import Lake
from tests.test_fleet_flow import make_small, warehouse_counts

pytestmark = pytest.mark.usefixtures("prefect_server")


@pytest.fixture
def fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "sources").mkdir()
    make_small(tmp_path / "sources" / "alpha.db", 30)
    make_small(tmp_path / "sources" / "beta.db", 12)
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(
        render_catalog(
            [
                {"name": "alpha", "enabled": True, "source": "sqlite:///sources/alpha.db"},
                {"name": "beta", "enabled": True, "source": "sqlite:///sources/beta.db"},
                {
                    "name": "gamma",
                    "enabled": False,
                    "source": "sqlite:///sources/beta.db",
                    "tables": {"include": ["nothing_matches%"]},
                },
            ]
        )
    )
    monkeypatch.setenv("SQLFLEET_LAKE_URL", f"file://{tmp_path / 'lake'}")
    monkeypatch.setenv("SQLFLEET_WAREHOUSE_URL", f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    monkeypatch.setenv("SQLFLEET_ENABLED_VARIABLE", f"sqlfleet_enabled_{tmp_path.name.lower()[-20:]}")
    monkeypatch.setenv("SQLFLEET_POLL_INTERVAL_SECONDS", "0.05")
    return catalog


def test_verify_only_and_load_only_work_from_the_lake_and_the_engines_state(
    fleet: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.artifacts import Artifact

    from flows.fleet import fleet_run
    from flows.load_only import load_lake
    from flows.verify_only import verify_lake

    assert fleet_run(catalog_path=str(fleet), run_key="ops", return_state=True).is_completed()
    lake = Lake.from_url(f"file://{tmp_path / 'lake'}")
    store = TaskStateStore(lake)

    # A new flow run (as on another worker) reads the engine's statistics from the lake.
    verified = verify_lake(catalog_path=str(fleet), return_state=True)
    assert verified.is_completed() and verified.message == "2/2 databases verified (full-load)"
    rows = {r["table"]: r for r in json.loads(Artifact.get("sqlfleet-db-alpha").data)}  # type: ignore[union-attr,arg-type]
    assert rows["dbo.Customer"]["engine_rows"] == 30 and rows["dbo.Customer"]["warehouse"] == "-"

    (missing,) = [o for o in lake.list("alpha/dbo/Customer/")]
    Path(lake.path(missing.key)).unlink()
    broken = verify_lake(catalog_path=str(fleet), return_state=True)
    assert broken.is_failed() and "1/2 databases failed: alpha" in (broken.message or "")
    alpha = {o.database: o for o in broken.result(raise_on_failure=False).outcomes}["alpha"]  # type: ignore[union-attr]
    assert "dbo.Customer" in alpha.failure

    # Load-only into an empty warehouse: beta loads from the lake, nothing is replicated again.
    monkeypatch.setenv("SQLFLEET_WAREHOUSE_URL", f"duckdb:///{tmp_path / 'rebuilt.duckdb'}")
    loaded = load_lake(databases=["beta"], catalog_path=str(fleet), return_state=True)
    assert loaded.is_completed() and loaded.message == "1/1 databases verified and loaded (full-load)"
    (tmp_path / "rebuilt").mkdir()
    (tmp_path / "rebuilt.duckdb").rename(tmp_path / "rebuilt" / "warehouse.duckdb")
    assert warehouse_counts(tmp_path / "rebuilt") == {"beta.Customer": 12, "beta.order_line": 36}
    assert store.read("beta-full").runs == 1  # type: ignore[union-attr]

    # A database whose task never ran has nothing to verify: it fails, saying so.
    never = verify_lake(databases=["gamma"], catalog_path=str(fleet), return_state=True)
    assert never.is_failed()
    (gamma,) = never.result(raise_on_failure=False).outcomes  # type: ignore[union-attr]
    assert "gamma has no full-load task yet" in gamma.failure


def test_a_failed_database_emits_the_event_the_alert_automation_watches(fleet: Path) -> None:
    from prefect.client.orchestration import get_client
    from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter

    from flows.fleet import fleet_run
    from tasks.alerts import DATABASE_FAILED

    state = fleet_run(databases=["alpha", "gamma"], catalog_path=str(fleet), run_key="alert", return_state=True)
    assert state.is_failed() and "1/2 databases failed: gamma" in (state.message or "")
    wanted = EventFilter(
        event=EventNameFilter(name=[DATABASE_FAILED]),
        resource=EventResourceFilter(id=["sqlfleet.database.gamma"]),
    )
    deadline = time.monotonic() + 30  # the server persists events in batches
    events = []
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline and not events:
            events = client.read_events(filter=wanted, limit=50).events
            time.sleep(0.5)
    assert events, "no sqlfleet.database.failed event reached the server"
    event = events[0]
    assert event.resource.name == "gamma" and event.payload["run_key"] == "alert"
    assert "match no source table" in event.payload["failure"]
    assert not [e for e in events if e.resource.id == "sqlfleet.database.alpha"]


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, str]]]]:
    """A local HTTP endpoint that keeps every JSON body posted to it."""
    received: list[dict[str, str]] = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers.get("content-length", 0)))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hook", received
    finally:
        server.shutdown()


def test_the_alert_automations_notify_on_a_failed_database_and_run(
    fleet: Path, monkeypatch: pytest.MonkeyPatch, webhook: tuple[str, list[dict[str, str]]]
) -> None:
    from prefect.blocks.notifications import CustomWebhookNotificationBlock
    from prefect.client.orchestration import get_client

    from deployments.setup import automation_definitions, setup
    from flows.fleet import fleet_run
    from sqlfleet.settings import Settings

    url, received = webhook
    CustomWebhookNotificationBlock(name="fleet", url=url, json_data={"text": "{{body}}"}).save(
        "fleet-alerts-test", overwrite=True
    )
    monkeypatch.setenv("SQLFLEET_ALERT_BLOCK", "custom-webhook/fleet-alerts-test")
    setup(Settings(), ["local"])
    try:
        state = fleet_run(databases=["alpha", "gamma"], catalog_path=str(fleet), run_key="notify", return_state=True)
        assert state.is_failed()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(received) < 2:
            time.sleep(0.5)
        texts = sorted(r["text"] for r in received)
        assert len(texts) == 2, texts
        assert texts[0].startswith("1/2 databases failed: gamma")  # the failed fleet run
        assert texts[1] == "replicate: task gamma-full failed: the selection rules match no source table"
    finally:  # later tests create these automations from scratch
        with get_client(sync_client=True) as client:
            for automation in automation_definitions("00000000-0000-0000-0000-000000000000"):
                for found in client.read_automations_by_name(automation.name):
                    client.delete_automation(found.id)

"""The fleet flow end to end with ``SQLFLEET_ENGINE=dms``: fake DMS + moto S3 lake + DuckDB warehouse.

From zero as the README says: ``sqlfleet aws plan/apply`` provisions the account (on the fake),
then only the environment differs from the embedded run: the same flow plans, ensures the DMS
tasks (reusing the provisioned endpoints), watches them with one batched poller, verifies the
Parquet files the fake DMS wrote into the S3 lake and loads them.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from flows.load_only import load_lake
from sqlfleet.aws.clients import make_clients
from sqlfleet.aws.provision import apply_plan, plan_provisioning
from sqlfleet.catalog import load_catalog, render_catalog
from sqlfleet.errors import WarehouseError
from sqlfleet.settings import Settings
from sqlfleet.testing.fake_aws import ACCESS_KEY, SECRET_KEY, FakeAwsServer
from sqlfleet.warehouses.duckdb import DuckDBWarehouse
from tests.test_engine_local import make_source
from tests.test_fleet_flow import make_small, warehouse_counts

pytestmark = pytest.mark.usefixtures("prefect_server")
SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:sqlfleet/{name}"


@pytest.fixture
def aws() -> Iterator[FakeAwsServer]:
    with FakeAwsServer() as server:
        yield server


@pytest.fixture
def fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, aws: FakeAwsServer) -> Path:
    sources = tmp_path / "sources"
    sources.mkdir()
    paths = {
        "alpha": make_small(sources / "alpha.db", 200),
        "zoo": make_source(sources / "zoo.db"),  # one table whose values do not fit their type
        "gamma": make_small(sources / "gamma.db", 50),
    }
    for name, path in paths.items():
        aws.dms.register_source(name, path)
    entries = [
        {
            "name": name,
            "enabled": True,
            "source": f"mssql://sql.fleet.test:1433/{name}",
            "credentials": {"username": "dms_user", "password_secret": SECRET.format(name=name)},
        }
        for name in paths
    ]
    entries[2]["tables"] = {"include": ["no_such_table%"]}  # DMS FailOnNoTablesCaptured
    # The flow never reads a SQL Server source: a delta's merge key comes from the catalog.
    entries[0]["table_options"] = [{"table": "dbo.Customer", "key_columns": ["id"]}]
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(render_catalog(entries))
    for name, value in {
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "SQLFLEET_ENGINE": "dms",
        "SQLFLEET_AWS_REGION": "us-east-1",
        "SQLFLEET_AWS_ENDPOINT_URL": aws.endpoint_url,
        "SQLFLEET_DMS_SUBNET_IDS": "subnet-a,subnet-b",
        "SQLFLEET_LAKE_URL": "s3://fleet-lake/lake",
        "SQLFLEET_LAKE_ENDPOINT_URL": aws.endpoint_url,
        "SQLFLEET_LAKE_REGION": "us-east-1",
        "SQLFLEET_LAKE_ACCESS_KEY_ID": ACCESS_KEY,
        "SQLFLEET_LAKE_SECRET_ACCESS_KEY": SECRET_KEY,
        "SQLFLEET_WAREHOUSE_URL": f"duckdb:///{tmp_path / 'warehouse.duckdb'}",
        "SQLFLEET_ENABLED_VARIABLE": f"sqlfleet_enabled_{tmp_path.name.lower()[-20:]}",
        "SQLFLEET_DMS_POLL_INTERVAL_SECONDS": "0.05",
        "SQLFLEET_DMS_API_REQUESTS_PER_SECOND": "50",
        "SQLFLEET_DMS_API_BURST": "100",
        # moto loads AWS's managed policies (the DMS account roles attach two) when told to.
        "MOTO_IAM_LOAD_MANAGED_POLICIES": "true",
    }.items():
        monkeypatch.setenv(name, value)
    urllib.request.urlopen(urllib.request.Request(f"{aws.endpoint_url}/moto-api/reset", method="POST")).close()
    # Step 2 of "Running on AWS": `sqlfleet aws plan` + `apply` provision the bucket, the roles,
    # the subnet group, the instance and the endpoints; the engine then reuses them unchanged.
    settings = Settings(catalog_path=catalog)
    clients = make_clients(settings)
    applied = apply_plan(
        clients, plan_provisioning(settings, load_catalog(catalog, check_sources=False).databases, clients)
    )
    assert {c.kind for c in applied} >= {"bucket", "role", "instance", "endpoint"}
    return catalog


def customers(tmp_path: Path) -> tuple[int, str, str]:
    """``alpha.Customer`` in the warehouse: its row count and the names of ids 7 and 8."""
    import duckdb

    warehouse = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
    try:
        count = warehouse.execute('SELECT count(*) FROM "alpha"."Customer"').fetchone()
        names = dict(warehouse.execute('SELECT id, name FROM "alpha"."Customer" WHERE id IN (7, 8)').fetchall())
    finally:
        warehouse.close()
    assert count is not None
    return int(count[0]), names[7], names[8]


def test_the_fleet_flow_runs_on_dms_end_to_end(fleet: Path, tmp_path: Path, aws: FakeAwsServer) -> None:
    from prefect.artifacts import Artifact

    from flows.fleet import fleet_run
    from sqlfleet.report import FleetSummary

    state = fleet_run(catalog_path=str(fleet), return_state=True)
    assert state.is_failed()
    assert "2/3 databases failed: zoo, gamma" in (state.message or "")
    summary = state.result(raise_on_failure=False)
    assert isinstance(summary, FleetSummary)
    by_name = {o.database: o for o in summary.outcomes}
    assert by_name["alpha"].status == "succeeded" and by_name["alpha"].rows == 200 + 600
    assert by_name["zoo"].status == "failed" and "dbo.broken" in (by_name["zoo"].failure or "")
    assert by_name["gamma"].status == "failed" and "No tables were found" in (by_name["gamma"].failure or "")

    counts = warehouse_counts(tmp_path)
    assert counts["alpha.Customer"] == 200 and counts["alpha.order_line"] == 600
    assert counts["zoo.Numbers"] == 5000 and counts["zoo.Type Zoo"] == 3 and "zoo.broken" not in counts
    assert not any(name.startswith("gamma.") for name in counts)

    # DMS resources named per database; the tasks ran once each.
    tasks = {t.identifier: t for t in aws.dms.tasks.values()}
    assert set(tasks) == {"alpha-full", "zoo-full", "gamma-full"}
    assert {t.runs for t in tasks.values()} == {1}
    assert aws.dms.calls["ModifyEndpoint"] == 0  # the engine found what `aws apply` made, as planned
    assert {e.identifier for e in aws.dms.endpoints.values()} == {
        f"{db}-{role}" for db in ("alpha", "zoo", "gamma") for role in ("source", "target")
    }
    fleet_artifact = Artifact.get("sqlfleet-fleet")
    assert fleet_artifact is not None
    rows = {r["database"]: r for r in json.loads(fleet_artifact.data)}  # type: ignore[arg-type]
    assert rows["alpha"]["status"] == "succeeded"

    # A second night: the same tasks are reused and reloaded (reload-target), nothing loads twice.
    # (its own run key: the default, today's date, would resume today's run and skip alpha)
    again = fleet_run(catalog_path=str(fleet), databases=["alpha"], run_key="second-night", return_state=True)
    assert again.is_completed(), again.message
    assert aws.dms.task_by_identifier("alpha-full").runs == 2
    assert warehouse_counts(tmp_path)["alpha.Customer"] == 200
    assert aws.dms.internal_errors == []


def test_a_delta_run_on_dms_merges_the_changes_since_the_checkpoint(
    fleet: Path, tmp_path: Path, aws: FakeAwsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3
    from datetime import UTC, datetime

    from flows.fleet import fleet_run
    from sqlfleet.cdc.sqlite_capture import enable_capture

    source = tmp_path / "sources" / "alpha.db"
    enable_capture(source, "dbo", ["Customer", "order_line"], datetime.now(UTC).replace(tzinfo=None))
    first = fleet_run(catalog_path=str(fleet), databases=["alpha"], mode="full-load-and-cdc", return_state=True)
    assert first.is_completed(), first.message
    con = sqlite3.connect(source)
    con.executemany('INSERT INTO "Customer" VALUES (?, ?, ?)', [(1000 + i, f"new {i}", 2.5) for i in range(5)])
    con.execute("UPDATE \"Customer\" SET name = 'renamed' WHERE id = 7")
    con.execute('DELETE FROM "Customer" WHERE id IN (1, 2)')
    con.commit()
    con.close()

    delta = fleet_run(catalog_path=str(fleet), databases=["alpha"], mode="cdc", return_state=True)
    assert delta.is_completed(), delta.message
    assert aws.dms.task_by_identifier("alpha-cdc").stop_reason == "Stop Reason STOPPED_AT_SERVER_TIME"
    assert customers(tmp_path)[:2] == (203, "renamed")

    # A delta replicated but not loaded (the warehouse refused the merge): the checkpoint stays, and
    # the load-only flow merges that window from the lake, once; running it again changes nothing.
    con = sqlite3.connect(source)
    con.execute("UPDATE \"Customer\" SET name = 'again' WHERE id = 8")
    con.execute('DELETE FROM "Customer" WHERE id = 3')
    con.commit()
    con.close()

    def refuse(*_: object, **__: object) -> None:
        raise WarehouseError("the warehouse is down")

    with monkeypatch.context() as patch:
        patch.setattr(DuckDBWarehouse, "merge_changes", refuse)
        failed = fleet_run(catalog_path=str(fleet), databases=["alpha"], mode="cdc", return_state=True)
    assert failed.is_failed() and "alpha" in (failed.message or "")
    count, _, name = customers(tmp_path)
    assert (count, name) != (202, "again")  # not loaded
    assert aws.dms.task_by_identifier("alpha-cdc").runs == 2
    for _ in range(2):
        loaded = load_lake(catalog_path=str(fleet), databases=["alpha"], mode="cdc", return_state=True)
        assert loaded.is_completed(), loaded.message
        assert customers(tmp_path) == (202, "renamed", "again")
    assert aws.dms.task_by_identifier("alpha-cdc").runs == 2


def test_verify_only_and_load_only_find_the_tasks_an_earlier_run_started(
    fleet: Path, tmp_path: Path, aws: FakeAwsServer
) -> None:
    from flows.fleet import fleet_run
    from flows.verify_only import verify_lake
    from sqlfleet.report import FleetSummary

    first = fleet_run(catalog_path=str(fleet), databases=["alpha", "gamma"], return_state=True)
    assert first.is_failed() and "1/2 databases failed: gamma" in (first.message or "")
    for leftover in tmp_path.glob("warehouse.duckdb*"):  # a warehouse rebuilt from the lake
        leftover.unlink()

    verified = verify_lake(catalog_path=str(fleet), databases=["alpha", "gamma", "zoo"], return_state=True)
    summary = verified.result(raise_on_failure=False)
    assert isinstance(summary, FleetSummary)
    by_name = {o.database: o for o in summary.outcomes}
    assert by_name["alpha"].status == "succeeded" and by_name["alpha"].rows == 200 + 600
    assert by_name["gamma"].status == "failed" and "failed" in (by_name["gamma"].failure or "")
    assert by_name["zoo"].status == "failed" and "no full-load task yet" in (by_name["zoo"].failure or "")
    assert not (tmp_path / "warehouse.duckdb").exists() or "alpha.Customer" not in warehouse_counts(tmp_path)

    loaded = load_lake(catalog_path=str(fleet), databases=["alpha"], return_state=True)
    assert loaded.is_completed(), loaded.message
    counts = warehouse_counts(tmp_path)
    assert (counts["alpha.Customer"], counts["alpha.order_line"]) == (200, 600)
    # Nothing was replicated again: the DMS task ran once, for the fleet run.
    assert aws.dms.task_by_identifier("alpha-full").runs == 1
    assert "zoo-full" not in {t.identifier for t in aws.dms.tasks.values()}
    assert aws.dms.internal_errors == []

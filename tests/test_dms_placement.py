"""Placement of databases on replication instances within DMS quotas (pure)."""

from __future__ import annotations

import pytest

from sqlfleet.dms.placement import (
    Quotas,
    endpoints_for,
    instance_capacity,
    place_databases,
    quotas_from_account_attributes,
)
from sqlfleet.errors import ConfigError

FLEET = [f"db{n:03d}" for n in range(1, 251)]
THREE = ["sqlfleet-01", "sqlfleet-02", "sqlfleet-03"]


def check_within_quotas(placement_quotas: Quotas, placement: object) -> None:
    from sqlfleet.dms.placement import Placement

    assert isinstance(placement, Placement)
    for inst in placement.instances:
        assert inst.endpoints == endpoints_for(placement.strategy, len(inst.databases))
        assert inst.endpoints <= placement_quotas.endpoints_per_instance
        assert inst.tasks == placement.modes_per_database * len(inst.databases)
        assert inst.tasks <= placement_quotas.tasks_per_instance
    assert placement.total_tasks <= placement_quotas.tasks_per_account
    assert placement.total_endpoints <= placement_quotas.endpoints_per_account


def test_250_databases_fit_on_3_instances_with_a_shared_endpoint() -> None:
    quotas = Quotas()
    placement = place_databases(FLEET, strategy="shared-endpoint", modes_per_database=2, quotas=quotas, instances=THREE)
    assert sorted(placement.assignments()) == FLEET
    assert [len(i.databases) for i in placement.instances] == [84, 83, 83]
    assert [i.endpoints for i in placement.instances] == [85, 84, 84]
    assert placement.total_tasks == 500
    check_within_quotas(quotas, placement)


def test_250_databases_need_5_instances_with_per_database_endpoints() -> None:
    with pytest.raises(ConfigError) as exc:
        place_databases(FLEET, strategy="per-database-endpoint", modes_per_database=2, quotas=Quotas(), instances=THREE)
    message = str(exc.value)
    assert "at most 50 databases" in message
    assert "add 2 instance(s) (5 in all)" in message
    assert "'EndpointsPerInstance' to 168" in message  # ceil(250 / 3) * 2
    assert "shared-endpoint strategy (99 databases per instance)" in message
    placement = place_databases(FLEET, strategy="per-database-endpoint", modes_per_database=2, quotas=Quotas())
    assert [i.instance for i in placement.instances] == [f"sqlfleet-0{n}" for n in range(1, 6)]
    assert all(len(i.databases) == 50 and i.endpoints == 100 for i in placement.instances)
    check_within_quotas(Quotas(), placement)


def test_capacity_follows_the_binding_quota() -> None:
    assert instance_capacity("per-database-endpoint", 2, Quotas()) == 50
    assert instance_capacity("shared-endpoint", 2, Quotas()) == 99
    assert instance_capacity("shared-endpoint", 3, Quotas()) == 66  # 200 tasks / 3
    assert instance_capacity("per-database-endpoint", 1, Quotas(endpoints_per_instance=400)) == 200
    assert endpoints_for("shared-endpoint", 0) == 0


def test_placement_is_sticky_unless_asked_to_move() -> None:
    existing = {"db001": "sqlfleet-03", "db002": "sqlfleet-03", "db003": "sqlfleet-01"}
    databases = ["db001", "db002", "db003", "db004", "db005", "db006"]
    placement = place_databases(
        databases,
        strategy="shared-endpoint",
        modes_per_database=2,
        quotas=Quotas(),
        existing=existing,
        instances=THREE,
    )
    where = placement.assignments()
    assert {db: where[db] for db in existing} == existing
    # newcomers fill the emptiest instance first: 02 (empty), then 01 and 02 tie-break in order
    assert (where["db004"], where["db005"], where["db006"]) == ("sqlfleet-02", "sqlfleet-01", "sqlfleet-02")
    moved = place_databases(
        databases,
        strategy="shared-endpoint",
        modes_per_database=2,
        quotas=Quotas(),
        existing={**existing, **{db: where[db] for db in ("db004", "db005", "db006")}},
        instances=THREE,
        move=["db001"],
    )
    assert moved.instance_of("db001") != "sqlfleet-03"
    assert {db: moved.instance_of(db) for db in databases if db != "db001"} == {
        db: where[db] for db in databases if db != "db001"
    }


def test_sticky_databases_keep_their_instances_when_instances_are_added() -> None:
    existing = {db: "legacy-ri" for db in FLEET[:40]}
    placement = place_databases(
        FLEET[:120], strategy="per-database-endpoint", modes_per_database=2, quotas=Quotas(), existing=existing
    )
    assert {db: placement.instance_of(db) for db in FLEET[:40]} == existing
    assert [i.instance for i in placement.instances] == ["legacy-ri", "sqlfleet-01", "sqlfleet-02"]
    assert [len(i.databases) for i in placement.instances] == [40, 40, 40]


def test_sticky_database_on_a_removed_instance_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"db001 \(on sqlfleet-09\)"):
        place_databases(
            ["db001"],
            strategy="shared-endpoint",
            modes_per_database=2,
            quotas=Quotas(),
            existing={"db001": "sqlfleet-09"},
            instances=THREE,
        )


def test_an_overfull_sticky_instance_says_how_many_to_move() -> None:
    existing = {db: "sqlfleet-01" for db in FLEET[:60]}
    with pytest.raises(ConfigError, match="move 10 of them"):
        place_databases(
            FLEET[:60], strategy="per-database-endpoint", modes_per_database=2, quotas=Quotas(), existing=existing
        )


def test_account_task_quota_is_enforced() -> None:
    with pytest.raises(ConfigError) as exc:
        place_databases(FLEET[:250], strategy="shared-endpoint", modes_per_database=3, quotas=Quotas())
    assert "750 tasks but the account allows 600" in str(exc.value)
    assert "'ReplicationTasks' quota to 750" in str(exc.value)


def test_account_endpoint_quota_is_enforced() -> None:
    fleet = [f"db{n}" for n in range(600)]
    quotas = Quotas(tasks_per_account=2000)
    with pytest.raises(ConfigError, match="1200 endpoints but the account allows 1000"):
        place_databases(fleet, strategy="per-database-endpoint", modes_per_database=1, quotas=quotas)
    shared = place_databases(fleet, strategy="shared-endpoint", modes_per_database=1, quotas=quotas)
    assert shared.total_endpoints == 600 + len(shared.instances)
    with pytest.raises(ConfigError, match="'Endpoints' quota"):
        place_databases(
            fleet,
            strategy="shared-endpoint",
            modes_per_database=1,
            quotas=Quotas(tasks_per_account=2000, endpoints_per_account=605),
        )


def test_instance_quota_is_enforced() -> None:
    with pytest.raises(ConfigError, match="'ReplicationInstances' quota to 5"):
        place_databases(
            FLEET, strategy="per-database-endpoint", modes_per_database=2, quotas=Quotas(instances_per_account=4)
        )


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ConfigError, match="not in the fleet: nope"):
        place_databases(["a"], strategy="shared-endpoint", modes_per_database=2, quotas=Quotas(), move=["nope"])
    with pytest.raises(ValueError, match="duplicates"):
        place_databases(["a", "a"], strategy="shared-endpoint", modes_per_database=2, quotas=Quotas())
    with pytest.raises(ConfigError, match="cannot hold a single database"):
        place_databases(
            ["a"], strategy="per-database-endpoint", modes_per_database=2, quotas=Quotas(endpoints_per_instance=1)
        )


def test_an_empty_fleet_needs_no_instance() -> None:
    placement = place_databases([], strategy="shared-endpoint", modes_per_database=2, quotas=Quotas())
    assert placement.instances == () and placement.total_endpoints == 0


def test_quotas_from_account_attributes() -> None:
    attrs: list[dict[str, object]] = [
        {"AccountQuotaName": "ReplicationInstances", "Used": 3, "Max": 20},
        {"AccountQuotaName": "AllocatedStorage", "Used": 300, "Max": 30000},
        {"AccountQuotaName": "Endpoints", "Used": 10, "Max": 1500},
        {"AccountQuotaName": "EndpointsPerInstance", "Used": 0, "Max": 200},
        {"AccountQuotaName": "ReplicationTasks", "Used": 2, "Max": 900},
    ]
    quotas = quotas_from_account_attributes(attrs)
    assert quotas == Quotas(
        endpoints_per_instance=200,
        tasks_per_instance=200,
        tasks_per_account=900,
        endpoints_per_account=1500,
        instances_per_account=20,
    )
    assert quotas_from_account_attributes([]) == Quotas()
    with pytest.raises(ValueError, match="Max must be a positive integer"):
        quotas_from_account_attributes([{"AccountQuotaName": "Endpoints", "Max": "lots"}])
    # with raised per-instance endpoints, 250 databases fit on 3 instances with per-database endpoints
    placement = place_databases(
        FLEET, strategy="per-database-endpoint", modes_per_database=2, quotas=quotas, instances=THREE
    )
    check_within_quotas(quotas, placement)

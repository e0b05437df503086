"""``sqlfleet prefect setup`` on a real local Prefect server: limits, work pool, alerts; idempotent."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.usefixtures("prefect_server")


def test_setup_creates_limits_work_pool_and_alerts_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from prefect.blocks.notifications import CustomWebhookNotificationBlock
    from prefect.client.orchestration import get_client

    from deployments.setup import WORK_POOL, setup
    from sqlfleet.limits import WAREHOUSE_LIMIT, engine_limit_name
    from sqlfleet.settings import Settings

    CustomWebhookNotificationBlock(name="alerts", url="http://127.0.0.1:9/hook").save("sqlfleet-alerts", overwrite=True)
    monkeypatch.setenv("SQLFLEET_ALERT_BLOCK", "custom-webhook/sqlfleet-alerts")
    monkeypatch.setenv("SQLFLEET_ENGINE_TASKS_PER_INSTANCE", "3")
    settings = Settings()

    assert setup(settings, ["local-setup", "ri-setup-1"], dry_run=True)
    with get_client(sync_client=True) as client:
        names = {limit.name for limit in client.read_global_concurrency_limits()}
        assert not names & {engine_limit_name("local-setup"), engine_limit_name("ri-setup-1")}
        pool_existed = any(pool.name == WORK_POOL for pool in client.read_work_pools())

    first = setup(settings, ["local-setup", "ri-setup-1"])
    assert any(line.startswith("create global concurrency limit sqlfleet-engine-ri-setup-1 = 3") for line in first)
    # Another test of the session (the deployments) may have prepared the server already.
    assert pool_existed or f"create work pool {WORK_POOL} (process)" in first
    assert "create automation sqlfleet-fleet-run-failed" in first
    with get_client(sync_client=True) as client:
        assert client.read_global_concurrency_limit_by_name(engine_limit_name("local-setup")).limit == 3
        assert client.read_global_concurrency_limit_by_name(WAREHOUSE_LIMIT).active
        assert client.read_work_pool(WORK_POOL).type == "process"
        automation = client.read_automations_by_name("sqlfleet-database-failed")[0]
        assert automation.actions[0].type == "send-notification"

    assert setup(settings, ["local-setup", "ri-setup-1"]) == []  # nothing left to change

    monkeypatch.setenv("SQLFLEET_ENGINE_TASKS_PER_INSTANCE", "5")
    resized = setup(Settings(), ["local-setup", "ri-setup-1"])
    assert sorted(resized) == [
        f"update global concurrency limit sqlfleet-engine-{name} = 5 (replication tasks running at once on {name})"
        for name in ("local-setup", "ri-setup-1")
    ]


def test_a_missing_alert_block_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from deployments.setup import setup
    from sqlfleet.errors import ConfigError
    from sqlfleet.settings import Settings

    monkeypatch.setenv("SQLFLEET_ALERT_BLOCK", "slack-webhook/nope")
    with pytest.raises(ConfigError, match="does not exist"):
        setup(Settings(), ["local"])

"""Test session setup: quiet Prefect, private Prefect home, one local Prefect server per session."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

# Prefect configures logging when imported: these must be set before any test imports it.
_HOME = tempfile.mkdtemp(prefix="sqlfleet-prefect-home-")
os.environ.setdefault("PREFECT_HOME", _HOME)
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_RESULTS_LOCAL_STORAGE_PATH", os.path.join(_HOME, "storage"))
for _name in [n for n in os.environ if n.startswith("SQLFLEET_")]:
    del os.environ[_name]

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    """A real local Prefect server (SQLite), started once per test session (~8 s)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        create_fleet_limits()
        yield


#: Replication instances the tests' fleets run on: the embedded engine, the fake DMS's first instance.
TEST_INSTANCES = ("local", "sqlfleet-01")


def create_fleet_limits() -> None:
    """The global concurrency limits a fleet run refuses to start without (``sqlfleet prefect setup``)."""
    from prefect.client.orchestration import get_client

    from deployments.setup import apply_limits
    from sqlfleet.limits import desired_limits

    desired = desired_limits(instances=TEST_INSTANCES, tasks_per_instance=4, warehouse_statements=4)
    with get_client(sync_client=True) as client:
        apply_limits(client, desired, dry_run=False)

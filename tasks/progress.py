"""The fleet table artifact while a run is in progress."""

from __future__ import annotations

from prefect import task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

#: The fleet table's artifact key: the live table and the final one are versions of one artifact.
FLEET_TABLE_KEY = "sqlfleet-fleet"


@task(name="publish-fleet-progress", cache_policy=NO_CACHE)
def publish_fleet_progress(rows: list[dict[str, object]], description: str) -> None:
    """A new version of the fleet table: every planned database with its step or outcome."""
    create_table_artifact(key=FLEET_TABLE_KEY, table=rows, description=description)

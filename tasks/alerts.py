"""Telling the alert automations that a database failed inside a fleet run."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.events import emit_event

from sqlfleet.report import DatabaseOutcome

#: The event ``deployments/automations.yaml`` reacts to (``sqlfleet-database-failed``).
DATABASE_FAILED = "sqlfleet.database.failed"


@task(name="announce-database-failure", task_run_name="announce-failure-{outcome.database}", cache_policy=NO_CACHE)
def announce_failure(outcome: DatabaseOutcome, run_key: str, mode: str) -> bool:
    """Emit ``sqlfleet.database.failed`` for a failed database; True when the event was queued."""
    event = emit_event(
        event=DATABASE_FAILED,
        resource={
            "prefect.resource.id": f"sqlfleet.database.{outcome.database}",
            "prefect.resource.name": outcome.database,
        },
        payload={"failure": outcome.failure, "run_key": run_key, "mode": mode},
    )
    return event is not None

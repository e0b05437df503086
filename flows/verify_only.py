"""Verify-only: check the lake against the engine's latest statistics, without replicating or loading."""

from __future__ import annotations

from typing import Literal

from prefect import flow
from prefect.states import State
from prefect.task_runners import ThreadPoolTaskRunner

from flows.pipeline import FLEET_THREADS, FleetRequest, run_fleet

Mode = Literal["full-load", "cdc", "full-load-and-cdc"]


@flow(name="sqlfleet-verify", task_runner=ThreadPoolTaskRunner(max_workers=FLEET_THREADS))  # type: ignore[arg-type]
def verify_lake(mode: Mode = "full-load", databases: list[str] | None = None, catalog_path: str | None = None) -> State:
    """Re-verify each database's files in the lake against the statistics of its latest finished
    ``mode`` task (read from the engine; nothing is started, nothing is loaded).

    A database whose task never ran, is still running or failed is reported failed; so is one
    whose files disagree with the statistics (missing, extra rows, schema drift).
    """
    return run_fleet(
        FleetRequest(mode=mode, databases=databases, catalog_path=catalog_path, replicate=False, load=False)
    )

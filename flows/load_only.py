"""Load-only: verify what the lake holds and load it, without replicating."""

from __future__ import annotations

from typing import Literal

from prefect import flow
from prefect.states import State
from prefect.task_runners import ThreadPoolTaskRunner

from flows.pipeline import FLEET_THREADS, FleetRequest, run_fleet

Mode = Literal["full-load", "cdc", "full-load-and-cdc"]


@flow(name="sqlfleet-load", task_runner=ThreadPoolTaskRunner(max_workers=FLEET_THREADS))  # type: ignore[arg-type]
def load_lake(mode: Mode = "full-load", databases: list[str] | None = None, catalog_path: str | None = None) -> State:
    """Verify each database's files against its latest finished ``mode`` task and load them.

    For a warehouse rebuilt (or restored) from the lake, or a load that failed after replication
    succeeded. Loads are idempotent: files already loaded are not loaded again; a ``cdc`` load
    merges the last window and moves the checkpoint as the fleet run would.
    """
    return run_fleet(FleetRequest(mode=mode, databases=databases, catalog_path=catalog_path, replicate=False))

"""Onboarding one database on demand: full load, verify, load (the same steps as the fleet's)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from prefect import flow
from prefect.states import State
from prefect.task_runners import ThreadPoolTaskRunner

from flows.pipeline import FLEET_THREADS, FleetRequest, run_fleet
from sqlfleet.layout import check_run_key

OnboardMode = Literal["full-load", "full-load-and-cdc"]


@flow(name="sqlfleet-onboard", task_runner=ThreadPoolTaskRunner(max_workers=FLEET_THREADS))  # type: ignore[arg-type]
def onboard_database(
    database: str,
    mode: OnboardMode = "full-load",
    catalog_path: str | None = None,
    run_key: str | None = None,
) -> State:
    """Replicate, verify and load one database of the catalog, whether or not it is enabled yet.

    ``full-load-and-cdc`` also records where its first delta starts (use it when the fleet runs
    hourly deltas). The run key defaults to ``onboard-<database>-<date>``: running the same
    onboarding again that day resumes it rather than loading twice.
    """
    key = run_key or check_run_key(f"onboard-{database}-{datetime.now(UTC):%Y-%m-%d}")
    return run_fleet(FleetRequest(mode=mode, databases=[database], catalog_path=catalog_path, run_key=key))

"""The fleet flow: plan, then for every database replicate → verify → load, then report.

``mode`` is chosen per run (``prefect deployment run ... --param mode=cdc``): ``full-load``
replaces every table; ``cdc`` merges the changes since each database's checkpoint and then moves
the checkpoint; ``full-load-and-cdc`` is a full load that records where the next delta starts.
Databases start longest-expected-first within the global concurrency limits; a rerun with the
same ``run_key`` resumes (see ``sqlfleet.resume``).
"""

from __future__ import annotations

from typing import Literal

from prefect import flow
from prefect.states import State
from prefect.task_runners import ThreadPoolTaskRunner

from flows.pipeline import FLEET_THREADS, FleetRequest, run_fleet

Mode = Literal["full-load", "cdc", "full-load-and-cdc"]


@flow(name="sqlfleet-fleet", task_runner=ThreadPoolTaskRunner(max_workers=FLEET_THREADS))  # type: ignore[arg-type]
def fleet_run(  # noqa: PLR0917 - Prefect passes deployment parameters by name
    mode: Mode = "full-load",
    databases: list[str] | None = None,
    dry_run: bool = False,
    catalog_path: str | None = None,
    run_key: str | None = None,
    only_failed: bool = False,
) -> State:
    """Replicate, verify and load every enabled database (or the named ones) of the catalog.

    One failing database never stops the others; the run ends Failed naming the failed ones.
    ``dry_run`` stops after the plan artifact. In ``cdc`` a database without a checkpoint fails
    (run ``full-load-and-cdc`` first) unless its catalog entry says ``cdc_without_checkpoint:
    full-load``; views are full-load only and reported as skipped in both change modes.
    ``run_key`` (default: the scheduled date and the mode) names the run: rerunning a key skips
    the databases loaded under it, resumes the interrupted ones and retries the failed ones;
    ``only_failed`` retries only those that started under the key and did not succeed.
    """
    return run_fleet(
        FleetRequest(
            mode=mode,
            databases=databases,
            dry_run=dry_run,
            catalog_path=catalog_path,
            run_key=run_key,
            only_failed=only_failed,
        )
    )

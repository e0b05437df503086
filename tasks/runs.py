"""Reading what earlier attempts of a run key did (the records themselves are written by the run)."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from sqlfleet.resume import DatabaseRecords
from sqlfleet.run_journal import RunJournal


@task(name="read-run-records", cache_policy=NO_CACHE)
def read_run_records(journal: RunJournal) -> dict[str, DatabaseRecords]:
    """Every database's records under the journal's run key (empty for a new key)."""
    return journal.read()

"""Reading the fleet's configuration: the catalog file and the UI-editable overrides."""

from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.variables import Variable

from sqlfleet.catalog import Catalog, load_catalog


@task(name="load-catalog", cache_policy=NO_CACHE)
def load_catalog_file(path: str) -> Catalog:
    """Read and validate the catalog; every problem is listed in the failure, nothing starts."""
    return load_catalog(Path(path))


@task(name="read-enabled-overrides", cache_policy=NO_CACHE)
def read_enabled_overrides(variable: str) -> object:
    """The Prefect Variable holding ``{database: true|false}``; ``None`` when it is not set."""
    return Variable.get(variable, default=None)

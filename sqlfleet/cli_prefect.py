"""``sqlfleet prefect ...``: prepare a Prefect server for the fleet."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from sqlfleet.errors import SqlfleetError

if TYPE_CHECKING:
    from sqlfleet.settings import Settings

prefect_app = typer.Typer(no_args_is_help=True, help="Prepare the Prefect server: limits, work pool, alerts.")


def fleet_instances(settings: Settings) -> list[str]:
    """The replication instances the fleet's databases run on: ``local`` for the embedded engine,
    the DMS placement's instances otherwise (read as a fleet run would: AWS calls)."""
    from sqlfleet.catalog import load_catalog
    from sqlfleet.lake import Lake
    from sqlfleet.limits import LOCAL_INSTANCE
    from sqlfleet.runtime import Runtime, open_engine

    if settings.engine == "local":
        return [LOCAL_INSTANCE]
    lake = Lake.from_settings(settings)
    runtime = Runtime(settings, lake, open_engine(settings, lake), None)
    names = [d.name for d in load_catalog(settings.catalog_path, check_sources=False).databases]
    return sorted({runtime.instance_of(name) for name in names})


@prefect_app.command("setup")
def prefect_setup(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only print what would change.")] = False,
    catalog: Annotated[
        Path | None, typer.Option(help="Catalog file whose DMS instances get limits (default: SQLFLEET_CATALOG_PATH).")
    ] = None,
    instance: Annotated[
        list[str] | None, typer.Option("--instance", help="Replication instance to give a limit (repeatable).")
    ] = None,
) -> None:
    """Create the global concurrency limits, the work pool and the alert automations (idempotent).

    Limits: one per replication instance (``local`` for the embedded engine; with
    ``SQLFLEET_ENGINE=dms``, every instance of the catalog's placement, or those named with
    ``--instance``) and one for the warehouse.
    """
    from deployments.setup import setup
    from sqlfleet.cli import use_prefect_server
    from sqlfleet.settings import Settings

    try:
        settings = Settings() if catalog is None else Settings(catalog_path=catalog)
        instances = list(instance) if instance else fleet_instances(settings)
        use_prefect_server(start=False)
        changes = setup(settings, instances=instances, dry_run=dry_run)
    except SqlfleetError as exc:
        typer.secho(str(exc), fg=typer.colors.RED, err=True)
        raise typer.Exit(code=2) from exc
    for line in changes or ["nothing to change"]:
        typer.echo(("would " if dry_run and not line.startswith("skip") else "") + line)

"""``sqlfleet prefect ...``: prepare a Prefect server for the fleet."""

from __future__ import annotations

from typing import Annotated

import typer

from sqlfleet.errors import SqlfleetError

prefect_app = typer.Typer(no_args_is_help=True, help="Prepare the Prefect server: limits, work pool, alerts.")


@prefect_app.command("setup")
def prefect_setup(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only print what would change.")] = False,
) -> None:
    """Create the global concurrency limits, the work pool and the alert automations (idempotent)."""
    from deployments.setup import setup
    from sqlfleet.cli import use_prefect_server
    from sqlfleet.limits import LOCAL_INSTANCE
    from sqlfleet.settings import Settings

    try:
        settings = Settings()
        use_prefect_server(start=False)
        changes = setup(settings, instances=[LOCAL_INSTANCE], dry_run=dry_run)
    except SqlfleetError as exc:
        typer.secho(str(exc), fg=typer.colors.RED, err=True)
        raise typer.Exit(code=2) from exc
    for line in changes or ["nothing to change"]:
        typer.echo(("would " if dry_run and not line.startswith("skip") else "") + line)

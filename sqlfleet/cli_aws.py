"""``sqlfleet aws plan|apply`` (provisioning) and ``sqlfleet prereqs`` (SQL Server side).

boto3 and the SQL Server driver are imported only by the commands that use them, so the rest
of the command line works without them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import SecretStr

from sqlfleet.errors import ConfigError, SqlfleetError

if TYPE_CHECKING:
    from sqlfleet.aws.clients import AwsClients
    from sqlfleet.aws.provision import ProvisioningPlan
    from sqlfleet.catalog import DatabaseEntry
    from sqlfleet.sql.tsql import PrereqOptions

aws_app = typer.Typer(no_args_is_help=True, help="Provision the AWS resources of a DMS fleet (plan, then apply).")

CatalogOption = Annotated[Path | None, typer.Option(help="Catalog file (default: SQLFLEET_CATALOG_PATH).")]
MoveOption = Annotated[
    str | None, typer.Option(help="Comma-separated databases to move off their current replication instance.")
]
SuspendOption = Annotated[
    bool,
    typer.Option("--suspend-versioning", help="Suspend versioning on an existing lake bucket (DMS needs it off)."),
]


def _fail(exc: Exception) -> typer.Exit:
    typer.secho(str(exc), fg=typer.colors.RED, err=True)
    return typer.Exit(code=2 if isinstance(exc, ConfigError) else 1)


def _names(value: str | None) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()] if value else []


def _plan(catalog: Path | None, move: str | None, suspend: bool) -> tuple[AwsClients, ProvisioningPlan]:
    from sqlfleet.aws.clients import make_clients
    from sqlfleet.aws.provision import plan_provisioning
    from sqlfleet.catalog import load_catalog
    from sqlfleet.settings import Settings

    settings = Settings()
    fleet = load_catalog(catalog or settings.catalog_path, check_sources=False)
    clients = make_clients(settings)
    plan = plan_provisioning(settings, fleet.databases, clients, move=_names(move), suspend_versioning=suspend)
    return clients, plan


def _show(plan: ProvisioningPlan, verbose: bool) -> None:
    from sqlfleet.aws.diff import render_plan
    from sqlfleet.dms.placement import format_placement

    for warning in plan.warnings:
        typer.secho(f"warning: {warning}", fg=typer.colors.YELLOW, err=True)
    typer.echo(format_placement(plan.placement))
    typer.echo("")
    typer.echo(render_plan(plan.changes, verbose=verbose))


@aws_app.command("plan")
def aws_plan(
    catalog: CatalogOption = None,
    move: MoveOption = None,
    suspend_versioning: SuspendOption = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Also list what is kept as is.")] = False,
) -> None:
    """Show where each database runs and what `aws apply` would create or change (changes nothing)."""
    try:
        _, plan = _plan(catalog, move, suspend_versioning)
    except SqlfleetError as exc:
        raise _fail(exc) from exc
    _show(plan, verbose)
    if any(c.action == "blocked" for c in plan.changes):
        typer.secho("apply would refuse: fix the blocked items first", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=2)


@aws_app.command("apply")
def aws_apply(
    catalog: CatalogOption = None,
    move: MoveOption = None,
    suspend_versioning: SuspendOption = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Create (or update) what the plan lists, idempotently; never deletes anything."""
    from sqlfleet.aws.provision import apply_plan

    try:
        clients, plan = _plan(catalog, move, suspend_versioning)
        _show(plan, verbose=False)
        if not any(c.action in ("create", "update") for c in plan.changes) and not any(
            c.action == "blocked" for c in plan.changes
        ):
            typer.echo("Nothing to do.")
            return
        if not yes:
            typer.confirm("Apply these changes?", abort=True)
        done = apply_plan(clients, plan, password_resolver=_prefect_secret)
    except SqlfleetError as exc:
        raise _fail(exc) from exc
    for change in done:
        typer.echo(f"done: {change.render()}")
    typer.secho(f"Applied {len(done)} change(s).", fg=typer.colors.GREEN)


def _prefect_secret(block: str) -> SecretStr:
    """The value of the Prefect Secret block ``block`` (a source password), read when creating
    its endpoint; the error never shows the value."""
    from prefect.blocks.system import Secret

    try:
        value = Secret.load(block).get()  # type: ignore[union-attr]  # sync in a sync context
    except Exception as exc:
        raise ConfigError(f"cannot read the Prefect Secret block {block!r}: {type(exc).__name__}") from None
    if not isinstance(value, str):
        raise ConfigError(f"the Prefect Secret block {block!r} must hold the password as a string")
    return SecretStr(value)


def prereqs(  # noqa: PLR0917 - Typer passes options as parameters
    catalog: CatalogOption = None,
    rds: Annotated[bool, typer.Option("--rds", help="Amazon RDS for SQL Server (rds_cdc_enable_db...).")] = False,
    full_load_only: Annotated[
        bool, typer.Option("--full-load-only", help="Only what full loads need (no MS-CDC, db_datareader).")
    ] = False,
    polling_interval: Annotated[
        int, typer.Option(help="MS-CDC capture job polling interval, seconds (1..86399).")
    ] = 86_399,
    databases: Annotated[str | None, typer.Option(help="Comma-separated subset of databases.")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the script here, not stdout.")] = None,
    check: Annotated[
        bool, typer.Option("--check", help="Query each source (read-only) and list what is missing.")
    ] = False,
    check_user: Annotated[
        str | None, typer.Option(help="Login for --check (default: the catalog's); password: SQLFLEET_CHECK_PASSWORD.")
    ] = None,
    sizes: Annotated[
        bool, typer.Option("--sizes", help="Instead: a read-only query per database giving its catalog size_mb.")
    ] = False,
) -> None:
    """Write the T-SQL each SQL Server source needs for DMS, per server and database (or --check it)."""
    from sqlfleet.catalog import load_catalog, select_databases
    from sqlfleet.settings import Settings
    from sqlfleet.sql.tsql import PrereqOptions, prerequisites_script, sizes_script

    try:
        if sizes and check:
            raise ConfigError("--sizes writes a query to run; it cannot be combined with --check")
        fleet = load_catalog(catalog or Settings().catalog_path, check_sources=False)
        wanted = _names(databases)
        entries = select_databases(fleet, wanted) if wanted else list(fleet.databases)
        options = PrereqOptions(
            mode="full-load" if full_load_only else "ongoing",
            variant="rds" if rds else "on-prem",
            polling_interval_seconds=polling_interval,
        )
    except (SqlfleetError, ValueError) as exc:
        raise _fail(exc if isinstance(exc, SqlfleetError) else ConfigError(str(exc))) from exc
    skipped = [e.name for e in entries if e.source_kind != "mssql"]
    if skipped:
        typer.secho(f"skipped (not mssql:// sources): {', '.join(skipped)}", fg=typer.colors.YELLOW, err=True)
    sources = [e for e in entries if e.source_kind == "mssql"]
    if not sources:
        raise _fail(ConfigError("no mssql:// database selected: nothing to prepare"))
    if check:
        raise typer.Exit(code=_check(sources, options, check_user))
    script = sizes_script(sources) if sizes else prerequisites_script(sources, options)
    if output is None:
        typer.echo(script, nl=False)
    else:
        output.write_text(script, encoding="utf-8")
        typer.echo(f"Wrote {output} ({len(sources)} database(s))", err=True)


def _check(entries: list[DatabaseEntry], options: PrereqOptions, user: str | None) -> int:
    """Run the checks; 0 when every source is ready, 1 when something is missing, 2 on setup errors."""
    from sqlfleet.prereqs import found_from_rows, missing_prerequisites
    from sqlfleet.source_check import DRIVER_MISSING, connect, driver_available, run_check_queries
    from sqlfleet.sql.tsql import check_queries, login_of

    if not driver_available():
        typer.secho(DRIVER_MISSING, fg=typer.colors.RED, err=True)
        return 2
    password = SecretStr(
        os.environ.get("SQLFLEET_CHECK_PASSWORD") or typer.prompt("Password for --check", hide_input=True)
    )
    status = 0
    for entry in entries:
        login = user or login_of(entry, options)
        try:
            connection = connect(entry, login, password)
        except SqlfleetError as exc:
            typer.secho(f"{entry.name}: {exc}", fg=typer.colors.RED, err=True)
            status = 1
            continue
        try:
            rows, errors = run_check_queries(connection.cursor(), check_queries(entry, options))
        finally:
            connection.close()
        missing = missing_prerequisites(entry, options, found_from_rows(rows))
        missing += [f"could not check {name}: {error}" for name, error in errors.items()]
        typer.echo(f"{entry.name}: " + ("ready" if not missing else f"{len(missing)} missing"))
        for item in missing:
            typer.echo(f"  - {item}")
        status = status or (1 if missing else 0)
    return status

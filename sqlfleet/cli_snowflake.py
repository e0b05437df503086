"""``sqlfleet snowflake setup``: the one-time Snowflake account setup, and the IAM policies to apply.

The statements come from ``sqlfleet.snowflake_setup`` (pure); this module only reads the
settings, runs them (or prints them with ``--dry-run``) and prints the policies as JSON.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from sqlfleet.errors import ConfigError, SqlfleetError

if TYPE_CHECKING:
    from sqlfleet.settings import Settings
    from sqlfleet.snowflake_setup import SetupPlan

snowflake_app = typer.Typer(no_args_is_help=True, help="Snowflake: the one-time account setup.")


def _plan(
    role_arn: str | None, external_id: str | None, stage_url: str | None, catalog: Path | None
) -> tuple[Settings, SetupPlan]:
    """The settings and the ``SetupPlan`` they describe; ``ConfigError`` says what is missing."""
    from sqlfleet.settings import Settings
    from sqlfleet.snowflake_setup import SetupPlan
    from sqlfleet.warehouse_url import parse_snowflake_url, warehouse_kind

    settings = Settings()
    if warehouse_kind(settings.warehouse_url) != "snowflake":
        raise ConfigError("SQLFLEET_WAREHOUSE_URL must be snowflake://<account>/<database>?warehouse=..&role=..")
    target = parse_snowflake_url(settings.warehouse_url)
    arn = role_arn or settings.snowflake_aws_role_arn
    ext = external_id or settings.snowflake_aws_external_id
    url = stage_url or settings.snowflake_stage_url or settings.lake_url
    missing = [
        name
        for name, value in (("SQLFLEET_SNOWFLAKE_AWS_ROLE_ARN", arn), ("SQLFLEET_SNOWFLAKE_AWS_EXTERNAL_ID", ext))
        if not value
    ]
    if missing:
        raise ConfigError(f"set {' and '.join(missing)} (or pass --role-arn / --external-id)")
    schemas: tuple[str, ...] = ()
    catalog_path = catalog or settings.catalog_path
    if catalog is not None or catalog_path.is_file():
        from sqlfleet.catalog import load_catalog

        schemas = tuple(d.name for d in load_catalog(catalog_path).databases if d.enabled)
    try:
        plan = SetupPlan(
            integration=settings.snowflake_storage_integration,
            aws_role_arn=str(arn),
            external_id=str(ext),
            stage_url=url,
            database=target.database,
            stage=settings.snowflake_stage,
            schemas=schemas,
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    return settings, plan


def _echo_json(title: str, value: object) -> None:
    typer.echo(f"\n-- {title}")
    typer.echo(json.dumps(value, indent=2))


@snowflake_app.command("setup")
def setup(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the statements and policies; run nothing.")] = False,
    role_arn: Annotated[str | None, typer.Option(help="IAM role Snowflake assumes (else the setting).")] = None,
    external_id: Annotated[str | None, typer.Option(help="Fixed external id (else the setting).")] = None,
    stage_url: Annotated[str | None, typer.Option(help="s3://bucket/prefix/ of the lake (else the setting).")] = None,
    catalog: Annotated[Path | None, typer.Option(help="Create one schema per enabled database of it.")] = None,
) -> None:
    """Create (or show) the storage integration, stage, file format, database and schemas; print the IAM policies."""
    from sqlfleet.snowflake_setup import (
        describe_integration_sql,
        integration_identity,
        permissions_policy,
        setup_statements,
        trust_policy,
    )

    try:
        settings, plan = _plan(role_arn, external_id, stage_url, catalog)
        statements = setup_statements(plan)
        if dry_run:
            typer.echo("-- statements (dry run: nothing was executed)")
            for statement in statements:
                typer.echo(statement + ";")
            typer.echo(describe_integration_sql(plan.integration) + ";")
            typer.echo(
                "\n-- trust policy: run without --dry-run to read STORAGE_AWS_IAM_USER_ARN from DESC INTEGRATION"
            )
            _echo_json("permissions policy (attach to the role)", permissions_policy(plan.stage_url))
            return
        rows = _run_setup(settings, statements, describe_integration_sql(plan.integration))
        identity = integration_identity(rows)
        if identity.external_id != plan.external_id:
            raise ConfigError(
                f"the integration {plan.integration!r} reports external id {identity.external_id!r}, "
                f"not the configured {plan.external_id!r}; its trust policy would not match"
            )
    except (SqlfleetError, ValueError) as exc:
        typer.secho(str(exc), fg=typer.colors.RED, err=True)
        raise typer.Exit(code=2 if isinstance(exc, ConfigError | ValueError) else 1) from exc
    typer.echo(f"Created or updated {len(statements)} objects in {plan.database} (integration {plan.integration}).")
    _echo_json("trust policy (the IAM role's trust relationship)", trust_policy(identity))
    _echo_json("permissions policy (attach to the role)", permissions_policy(plan.stage_url))


def _run_setup(settings: Settings, statements: list[str], describe: str) -> list[tuple[object, ...]]:
    """Run the setup statements on one session; the ``DESC INTEGRATION`` rows."""
    import snowflake.connector

    from sqlfleet.warehouse_url import parse_snowflake_url
    from sqlfleet.warehouses.snowflake_session import SessionPool, connect_options

    options = connect_options(settings, parse_snowflake_url(settings.warehouse_url))
    pool = SessionPool(lambda: snowflake.connector.connect(**options), size=1)
    try:
        with pool.session("setting up Snowflake") as s:
            for statement in statements:
                s.execute(statement)
            rows = s.execute(describe)
            s.commit()
            return rows
    finally:
        pool.close()

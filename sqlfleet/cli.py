"""The ``sqlfleet`` command line: demo, run, catalog check, local Prefect server.

Prefect reads its settings (API URL, home) from the environment, so commands that talk to
Prefect set them first and import Prefect afterwards.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from sqlfleet.cli_aws import aws_app, prereqs
from sqlfleet.cli_cdc import cdc_app, demo_mutate
from sqlfleet.cli_prefect import prefect_app
from sqlfleet.cli_snowflake import snowflake_app
from sqlfleet.errors import ConfigError, SqlfleetError

if TYPE_CHECKING:
    from sqlfleet.demo.generate import GeneratedDatabase

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="Replicate a fleet of databases into a lake and a warehouse.",
)
catalog_app = typer.Typer(no_args_is_help=True, help="Work with catalog files.")
server_app = typer.Typer(no_args_is_help=True, help="The local Prefect server used by the embedded default.")
app.add_typer(catalog_app, name="catalog")
app.add_typer(server_app, name="server")
app.add_typer(prefect_app, name="prefect")
app.add_typer(cdc_app, name="cdc")
app.add_typer(snowflake_app, name="snowflake")
app.add_typer(aws_app, name="aws")
app.command("prereqs")(prereqs)
demo_app = typer.Typer(help="The demo: sample sources, the fleet on them, a row-by-row check.")
app.add_typer(demo_app, name="demo")
demo_app.command("mutate")(demo_mutate)

PREFECT_HOME = Path(".prefect")
DATA_DIR = Path("data")


def _port() -> int:
    return int(os.environ.get("SQLFLEET_PREFECT_PORT", "4200"))


def _fail(exc: Exception) -> typer.Exit:
    typer.secho(str(exc), fg=typer.colors.RED, err=True)
    return typer.Exit(code=2 if isinstance(exc, ConfigError) else 1)


def use_prefect_server(start: bool) -> str | None:
    """Point Prefect at PREFECT_API_URL if set, else at the project's local server (started if asked)."""
    from sqlfleet.local_server import api_url, ensure_server, is_healthy

    os.environ.setdefault("PREFECT_HOME", str(PREFECT_HOME.resolve()))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    if os.environ.get("PREFECT_API_URL"):
        return os.environ["PREFECT_API_URL"]
    if start:
        typer.echo(f"Starting (or reusing) the local Prefect server on 127.0.0.1:{_port()} ...")
        info = ensure_server(PREFECT_HOME, _port())
        typer.echo(f"Prefect server {'started' if info.started else 'reused'}: {info.ui_url}")
        os.environ["PREFECT_API_URL"] = info.api_url
        return info.api_url
    if is_healthy(api_url(_port())):
        os.environ["PREFECT_API_URL"] = api_url(_port())
        return os.environ["PREFECT_API_URL"]
    typer.echo(
        "No PREFECT_API_URL and no local server: Prefect will use a temporary server and the run "
        "will not stay visible in a UI. Start one with `sqlfleet server start`."
    )
    return None


def prepare_prefect(api: str | None) -> None:
    """Create the concurrency limits (and work pool) the fleet flow refuses to run without.

    The demo does this on its local server; a temporary server (no ``api``) starts empty every
    time, so a run on one always needs it.
    """
    from deployments.setup import setup
    from sqlfleet.limits import LOCAL_INSTANCE
    from sqlfleet.settings import Settings

    for line in setup(Settings(), instances=[LOCAL_INSTANCE]):
        if not line.startswith("skip"):
            typer.echo(f"Prefect setup{'' if api else ' (temporary server)'}: {line}")


def demo_run_key(mode: str, step: int) -> str:
    """A run key of its own for each demo run: the demo regenerates its sources, so nothing may be
    skipped as already loaded under today's default key."""
    from datetime import UTC, datetime

    return f"demo-{datetime.now(UTC):%Y%m%d-%H%M%S}-{step}-{mode}"


def _run_fleet(
    catalog: Path,
    mode: str,
    databases: list[str] | None,
    dry_run: bool,
    api: str | None,
    *,
    run_key: str | None = None,
    only_failed: bool = False,
) -> bool:
    """Run the fleet flow in this process; print the summary and the UI link. True when all succeeded."""
    from flows.fleet import fleet_run
    from sqlfleet.local_server import ui_url_for
    from sqlfleet.report import FleetSummary, format_summary

    if api is None:
        prepare_prefect(api)
    state = fleet_run(
        mode=mode,
        databases=databases,
        dry_run=dry_run,
        catalog_path=str(catalog),
        run_key=run_key,
        only_failed=only_failed,
        return_state=True,
    )
    result = state.result(raise_on_failure=False)
    typer.echo("")
    if isinstance(result, FleetSummary) and result.outcomes:
        typer.echo(format_summary(result))
        typer.echo("")
    typer.secho(
        f"Flow run {state.name}: {state.message}",
        fg=typer.colors.GREEN if state.is_completed() else typer.colors.RED,
    )
    if isinstance(result, BaseException) and not isinstance(result, FleetSummary):
        typer.secho(str(result), fg=typer.colors.RED, err=True)
    if api:
        run_id = state.state_details.flow_run_id
        typer.echo(f"See it in the Prefect UI: {ui_url_for(api)}/runs/flow-run/{run_id}  (Artifacts tab)")
    return state.is_completed()


@app.command()
def run(  # noqa: PLR0917 - Typer passes options as parameters
    catalog: Annotated[Path | None, typer.Option(help="Catalog file (default: SQLFLEET_CATALOG_PATH).")] = None,
    mode: Annotated[str, typer.Option(help="full-load, cdc or full-load-and-cdc.")] = "full-load",
    databases: Annotated[str | None, typer.Option(help="Comma-separated subset of databases.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Plan only.")] = False,
    run_key: Annotated[
        str | None, typer.Option(help="Run key: rerunning a key resumes it (default: today's date and the mode).")
    ] = None,
    only_failed: Annotated[
        bool, typer.Option("--only-failed", help="Rerun only the databases that did not succeed under the run key.")
    ] = False,
) -> None:
    """Run the fleet flow with the current settings."""
    from sqlfleet.settings import Settings

    try:
        settings = Settings()
        api = use_prefect_server(start=False)
        names = [d.strip() for d in databases.split(",") if d.strip()] if databases else None
        ok = _run_fleet(
            catalog or settings.catalog_path, mode, names, dry_run, api, run_key=run_key, only_failed=only_failed
        )
    except SqlfleetError as exc:
        raise _fail(exc) from exc
    raise typer.Exit(code=0 if ok else 1)


@catalog_app.command("check")
def catalog_check(
    path: Annotated[Path, typer.Argument(help="Catalog YAML file.")],
    sources: Annotated[bool, typer.Option(help="Also open every source.")] = True,
) -> None:
    """Validate a catalog and list every problem at once."""
    from sqlfleet.catalog import load_catalog

    try:
        catalog = load_catalog(path, check_sources=sources)
    except SqlfleetError as exc:
        raise _fail(exc) from exc
    enabled = [d.name for d in catalog.databases if d.enabled]
    typer.echo(f"{path}: OK, {len(catalog.databases)} database(s), {len(enabled)} enabled")


@server_app.command("start")
def server_start() -> None:
    """Start the local Prefect server in the background (or reuse a running one)."""
    from sqlfleet.local_server import ensure_server

    try:
        info = ensure_server(PREFECT_HOME, _port())
    except SqlfleetError as exc:
        raise _fail(exc) from exc
    typer.echo(f"Prefect server {'started' if info.started else 'already running'}: {info.ui_url}")
    typer.echo(f"Use it with: export PREFECT_API_URL={info.api_url}")


@server_app.command("stop")
def server_stop() -> None:
    """Stop the local Prefect server started by sqlfleet."""
    from sqlfleet.local_server import stop_server

    pid = stop_server(PREFECT_HOME)
    typer.echo(f"Stopped the Prefect server (pid {pid})." if pid else "No sqlfleet-started Prefect server is running.")


@server_app.command("status")
def server_status() -> None:
    """Say whether the local Prefect server answers."""
    from sqlfleet.local_server import api_url, is_healthy

    healthy = is_healthy(api_url(_port()))
    typer.echo(f"{api_url(_port())}: {'healthy' if healthy else 'not running'}")
    raise typer.Exit(code=0 if healthy else 1)


@demo_app.callback(invoke_without_command=True)
def demo(  # noqa: PLR0917 - Typer passes options as parameters
    ctx: typer.Context,
    databases: Annotated[int, typer.Option(help="How many sample databases.")] = 3,
    seed: Annotated[int, typer.Option(help="Seed of the deterministic generator.")] = 7,
    scale: Annotated[float, typer.Option(help="Row-count multiplier.")] = 1.0,
    generate_only: Annotated[bool, typer.Option("--generate-only", help="Only write the sample sources.")] = False,
    delta: Annotated[
        bool, typer.Option("--delta", help="Capture changes: full load, mutate the sources, delta, check.")
    ] = False,
) -> None:
    """Generate sample SQL Server-like databases, run the fleet on them, and check the warehouse."""
    if ctx.invoked_subcommand is not None:
        return
    from sqlfleet.catalog import render_catalog
    from sqlfleet.demo.generate import generate_fleet

    data = DATA_DIR.resolve()
    sources = data / "sources"
    typer.echo(f"Generating {databases} sample database(s) in {sources} (seed {seed}) ...")
    generated = generate_fleet(sources, databases=databases, seed=seed, scale=scale)
    catalog_path = data / "catalog.yaml"
    catalog_path.write_text(
        render_catalog(
            [{"name": g.name, "enabled": True, "source": f"sqlite:///sources/{g.path.name}"} for g in generated]
        )
    )
    typer.echo(f"Wrote the demo catalog {catalog_path}")
    if generate_only:
        return
    try:
        api = use_prefect_server(start=True)
        prepare_prefect(api)
        runs = iter(range(1, 100))
        if delta:
            from sqlfleet.cli_cdc import run_delta_demo

            ok = equal = run_delta_demo(
                generated,
                catalog_path,
                run_fleet=lambda mode: _run_fleet(
                    catalog_path, mode, None, False, api, run_key=demo_run_key(mode, next(runs))
                ),
                check=lambda: _check_demo(generated, data, include_views=False),
            )
        else:
            ok = _run_fleet(catalog_path, "full-load", None, False, api, run_key=demo_run_key("full-load", 1))
    except SqlfleetError as exc:
        raise _fail(exc) from exc
    if not delta:
        equal = _check_demo(generated, data)
    typer.echo("")
    typer.echo(f"Lake (DMS layout):  {data / 'lake'}")
    typer.echo(f"Warehouse (DuckDB): {data / 'warehouse.duckdb'}")
    if api:
        typer.echo(f"Prefect UI:         {api.removesuffix('/api')}  (Runs → sqlfleet-fleet → Artifacts)")
        typer.echo("The server keeps running so you can look; stop it with `make stop` (or `sqlfleet server stop`).")
    raise typer.Exit(code=0 if ok and equal else 1)


def _check_demo(generated: list[GeneratedDatabase], data: Path, include_views: bool = True) -> bool:
    """Compare every warehouse table (and view) with its source, row by row; print the result."""
    from sqlfleet.demo.check import compare_database, format_comparison
    from sqlfleet.settings import Settings

    warehouse = Settings().warehouse_path().resolve()
    typer.echo("")
    typer.echo(f"Checking every warehouse table against its source, row by row ({warehouse}) ...")
    all_equal = True
    for g in generated:
        results = compare_database(g.path, warehouse, g.name, include_views=include_views)
        bad = [r for r in results if not r.equal]
        all_equal = all_equal and not bad
        typer.echo(f"{g.name}: {len(results) - len(bad)}/{len(results)} tables equal to the source")
        if bad:
            typer.echo(format_comparison(bad))
    typer.secho(
        "All warehouse tables equal their sources." if all_equal else "Some tables differ (see above).",
        fg=typer.colors.GREEN if all_equal else typer.colors.RED,
    )
    return all_equal


def main() -> None:
    """Entry point for ``python -m sqlfleet``."""
    app(prog_name="sqlfleet")


if __name__ == "__main__":
    main()

"""``sqlfleet cdc enable``, ``sqlfleet demo mutate`` and the delta part of ``sqlfleet demo --delta``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from sqlfleet.errors import ConfigError, SqlfleetError

if TYPE_CHECKING:
    from sqlfleet.cdc.enable import CaptureReport
    from sqlfleet.demo.generate import GeneratedDatabase

cdc_app = typer.Typer(no_args_is_help=True, help="Change data capture on the catalog's sources.")

DEMO_CATALOG = Path("data") / "catalog.yaml"


def _names(databases: str | None) -> list[str] | None:
    return [d.strip() for d in databases.split(",") if d.strip()] if databases else None


def _fail(exc: Exception) -> typer.Exit:
    typer.secho(str(exc), fg=typer.colors.RED, err=True)
    return typer.Exit(code=2 if isinstance(exc, ConfigError) else 1)


def enable_catalog(catalog: Path, databases: Sequence[str] | None = None, rds: bool = False) -> list[CaptureReport]:
    """Enable capture on the catalog's databases (all of them, enabled or not, or the named ones)."""
    from sqlfleet.catalog import load_catalog
    from sqlfleet.cdc.enable import enable_for_entry

    loaded = load_catalog(catalog)
    if databases:
        unknown = sorted(set(databases) - {d.name for d in loaded.databases})
        if unknown:
            raise ConfigError(f"not in {catalog}: {', '.join(unknown)}")
    now = datetime.now(UTC).replace(tzinfo=None)
    variant: Literal["on-prem", "rds"] = "rds" if rds else "on-prem"
    return [enable_for_entry(d, now, variant) for d in loaded.databases if not databases or d.name in databases]


@cdc_app.command("enable")
def cdc_enable(
    catalog: Annotated[Path, typer.Option(help="Catalog file.")],
    databases: Annotated[str | None, typer.Option(help="Comma-separated subset of databases.")] = None,
    rds: Annotated[bool, typer.Option("--rds", help="SQL Server sources are on Amazon RDS.")] = False,
) -> None:
    """Capture changes on every selected table (sp_cdc_enable_db / sp_cdc_enable_table); idempotent.

    SQLite sources are changed in place; for SQL Server sources the T-SQL (the ongoing-replication
    prerequisites, MS-CDC included) is printed, to run as a DBA.
    """
    try:
        reports = enable_catalog(catalog, _names(databases), rds)
    except SqlfleetError as exc:
        raise _fail(exc) from exc
    for report in reports:
        typer.echo(report.summary())
        if report.script:
            typer.echo(report.script)
    changed = sum(r.changed for r in reports)
    typer.echo(f"{changed} of {len(reports)} database(s) changed")


def demo_mutate(
    catalog: Annotated[Path, typer.Option(help="Catalog of the demo databases.")] = DEMO_CATALOG,
    databases: Annotated[str | None, typer.Option(help="Comma-separated subset of databases.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the batch.")] = 7,
    fraction: Annotated[float, typer.Option(help="Share of each changed table's rows to update.")] = 0.01,
) -> None:
    """Apply a realistic batch of inserts, updates and deletes to the demo databases."""
    from sqlfleet.catalog import load_catalog
    from sqlfleet.demo.mutate import mutate_database

    names = _names(databases)
    try:
        entries = [d for d in load_catalog(catalog).databases if names is None or d.name in names]
        for entry in entries:
            summary = mutate_database(entry.sqlite_path, seed=seed, fraction=fraction)
            typer.echo(_mutation_line(entry.name, summary.tables))
    except (SqlfleetError, ValueError) as exc:
        raise _fail(exc) from exc


def _mutation_line(database: str, tables: Sequence[object]) -> str:
    from sqlfleet.demo.mutate import TableChanges

    parts = [f"{t.table} +{t.inserted} ~{t.updated} -{t.deleted}" for t in tables if isinstance(t, TableChanges)]
    return f"{database}: " + ", ".join(parts)


def run_delta_demo(
    generated: Sequence[GeneratedDatabase],
    catalog: Path,
    run_fleet: Callable[[str], bool],
    check: Callable[[], bool],
) -> bool:
    """Full load that records the position → check → mutate → delta → check → delta again (no change).

    ``run_fleet(mode)`` runs the fleet flow and says whether it succeeded; ``check()`` compares
    every warehouse table with its source. Views are full-load only, so they are skipped (and
    reported) in these runs and not compared.
    """
    from sqlfleet.demo.mutate import mutate_database

    typer.echo("Enabling change capture on the sample sources (`sqlfleet cdc enable`) ...")
    for report in enable_catalog(catalog):
        typer.echo(f"  {report.summary()}")
    typer.echo("\n== Full load that records where the delta starts (mode=full-load-and-cdc)")
    ok = run_fleet("full-load-and-cdc") and check()
    typer.echo("\n== A batch of changes on every source (`sqlfleet demo mutate`)")
    for g in generated:
        typer.echo(f"  {_mutation_line(g.name, mutate_database(g.path).tables)}")
    typer.echo("\n== Delta: the changes since the checkpoint, merged (mode=cdc)")
    ok = run_fleet("cdc") and check() and ok
    typer.echo("\n== The same delta again: nothing new, nothing changes")
    ok = run_fleet("cdc") and check() and ok
    typer.echo(
        "Views are full-load only: these runs skip them (each database's artifact lists them as skipped); "
        "`sqlfleet demo` without --delta loads and checks them."
    )
    return ok


__all__ = ["cdc_app", "demo_mutate", "enable_catalog", "run_delta_demo"]

"""``sqlfleet cdc enable``: change capture for every source of a catalog, idempotently.

A SQLite source gets the MS-CDC-style capture of ``sqlite_capture`` on every table the catalog
selects (views cannot be captured; DMS replicates them in full loads only). A SQL Server source
gets the T-SQL that does the same with ``sp_cdc_enable_db`` / ``sp_cdc_enable_table``, within the
ongoing-replication prerequisites of ``sqlfleet.sql.tsql`` (the DMS login's roles, the recovery
model check, the capture job), to run with a DBA login: the flow never holds one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from sqlfleet.catalog_models import DatabaseEntry
from sqlfleet.cdc.sqlite_capture import enable_capture
from sqlfleet.engines.sqlite_source import list_source_tables
from sqlfleet.sql.tsql import PrereqOptions, Variant, prerequisites_script


class CaptureReport(BaseModel):
    """What ``cdc enable`` did (SQLite) or would do (SQL Server script) for one database."""

    model_config = ConfigDict(frozen=True)

    database: str
    source_kind: Literal["sqlite", "mssql"]
    database_enabled: bool = False
    enabled: tuple[str, ...] = ()
    already: tuple[str, ...] = ()
    script: str | None = None

    @property
    def changed(self) -> bool:
        """Whether this call changed the source."""
        return self.database_enabled or bool(self.enabled)

    def summary(self) -> str:
        """One line for the terminal."""
        if self.script is not None:
            return f"{self.database}: SQL Server source: run the T-SQL below as a DBA (it is idempotent)"
        if not self.changed:
            return f"{self.database}: nothing to do, {len(self.already)} table(s) already captured"
        head = "capture enabled on the database; " if self.database_enabled else ""
        return (
            f"{self.database}: {head}{len(self.enabled)} table(s) newly captured"
            f"{': ' + ', '.join(self.enabled) if len(self.enabled) <= 8 else ''}, {len(self.already)} already captured"
        )


def enable_for_entry(entry: DatabaseEntry, now: datetime, variant: Variant = "on-prem") -> CaptureReport:
    """Enable capture on ``entry``'s source (SQLite) or build the T-SQL for it (SQL Server, on
    premises or on Amazon RDS)."""
    if entry.source_kind == "mssql":
        script = prerequisites_script([entry], PrereqOptions(mode="ongoing", variant=variant))
        return CaptureReport(database=entry.name, source_kind="mssql", script=script)
    path = entry.sqlite_path
    tables = [
        t.name
        for t in list_source_tables(path, entry.default_schema, include_views=False)
        if entry.wants_table(t.schema_name, t.name)
    ]
    result = enable_capture(path, entry.default_schema, tables, now)
    return CaptureReport(
        database=entry.name,
        source_kind="sqlite",
        database_enabled=result.database_enabled,
        enabled=result.enabled,
        already=result.already,
    )


__all__ = ["CaptureReport", "enable_for_entry"]

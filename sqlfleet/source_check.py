"""Running the read-only prerequisite checks on a SQL Server source (adapter).

The queries come from ``sqlfleet.sql.tsql.check_queries`` and the comparison from
``sqlfleet.prereqs``; this module only executes them. It uses ``pymssql`` when it is installed
and never depends on it: without a driver, ``--check`` says how to install one.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import urlsplit

from pydantic import SecretStr

from sqlfleet.catalog import DatabaseEntry
from sqlfleet.errors import ConfigError, SourceError
from sqlfleet.sql.tsql import database_of

DRIVER_MISSING = "no SQL Server driver installed: pip install pymssql (then rerun with --check)"


class Cursor(Protocol):
    """The part of a DB-API cursor the checks use."""

    def execute(self, operation: str) -> object:
        """Run one statement."""
        ...

    def fetchall(self) -> list[Any]:
        """Every row of the last statement."""
        ...


def driver_available() -> bool:
    """Whether ``pymssql`` can be imported."""
    return importlib.util.find_spec("pymssql") is not None


def run_check_queries(
    cursor: Cursor, queries: Mapping[str, str]
) -> tuple[dict[str, list[tuple[object, ...]]], dict[str, str]]:
    """Rows of every query by name, and the error of each query that failed (its rows are then
    empty: e.g. ``msdb.dbo.cdc_jobs`` does not exist before MS-CDC was ever enabled)."""
    rows: dict[str, list[tuple[object, ...]]] = {}
    errors: dict[str, str] = {}
    for name, sql in queries.items():
        try:
            cursor.execute(sql)
            rows[name] = [tuple(row) for row in cursor.fetchall()]
        except Exception as exc:  # DB-API drivers raise their own error classes
            rows[name] = []
            errors[name] = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return rows, errors


def connect(entry: DatabaseEntry, user: str, password: SecretStr, *, timeout_seconds: int = 15) -> Any:
    """A ``pymssql`` connection to ``entry``'s database; ``ConfigError`` without the driver,
    ``SourceError`` when the server cannot be reached or refuses the login."""
    if not driver_available():
        raise ConfigError(DRIVER_MISSING)
    pymssql: Any = importlib.import_module("pymssql")
    url = urlsplit(entry.source)
    try:
        return pymssql.connect(
            server=url.hostname,
            port=url.port or 1433,
            user=user,
            password=password.get_secret_value(),
            database=database_of(entry),
            login_timeout=timeout_seconds,
            timeout=60,
        )
    except pymssql.Error as exc:
        raise SourceError(f"{entry.name}: cannot connect to {url.hostname}: {exc}") from exc

"""What a SQL Server source needs for AWS DMS vs what a check found there (pure).

``sqlfleet prereqs --check`` runs the read-only queries of ``sqlfleet.sql.tsql.check_queries``
in each source database; ``found_from_rows`` turns their rows into a ``FoundDatabase`` and
``missing_prerequisites`` lists, in words, everything the prerequisite script would still fix
(or a person must, such as a full backup or a nullable partition column).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from sqlfleet.catalog import DatabaseEntry
from sqlfleet.sql.tsql import PrereqOptions, database_of, login_of

Rows = Sequence[Sequence[object]]


class FoundDatabase(BaseModel):
    """What the check queries returned for one source database."""

    model_config = ConfigDict(frozen=True)

    login_exists: bool
    server_permissions: frozenset[str] = frozenset()
    recovery_model: str | None = None
    cdc_enabled: bool = False
    user_exists: bool = False
    roles: frozenset[str] = frozenset()
    database_permissions: frozenset[str] = frozenset()
    #: ``(schema, table, tracked by MS-CDC)`` of every table the catalog selects.
    tables: tuple[tuple[str, str, bool], ...] = ()
    capture_polling_interval: int | None = None
    last_full_backup: datetime | None = None
    #: ``(schema, table, column, nullable)`` of the catalog's ranges partition columns found.
    partition_columns: tuple[tuple[str, str, str, bool], ...] = ()


def found_from_rows(rows: Mapping[str, Rows]) -> FoundDatabase:
    """A ``FoundDatabase`` from the rows of each named check query (missing names: no rows)."""

    def column(name: str, index: int = 0) -> list[object]:
        return [row[index] for row in rows.get(name, ())]

    database = list(rows.get("database", ()))
    polling = column("capture_job")
    backup = [b for b in column("full_backup") if b is not None]
    return FoundDatabase(
        login_exists=bool(rows.get("login")),
        server_permissions=frozenset(str(p).upper() for p in column("server_permissions")),
        recovery_model=str(database[0][0]) if database else None,
        cdc_enabled=bool(database[0][1]) if database else False,
        user_exists=bool(rows.get("user")),
        roles=frozenset(str(r) for r in column("roles")),
        database_permissions=frozenset(str(p).upper() for p in column("database_permissions")),
        tables=tuple((str(r[0]), str(r[1]), bool(r[2])) for r in rows.get("tables", ())),
        capture_polling_interval=int(str(polling[0])) if polling and polling[0] is not None else None,
        last_full_backup=backup[0] if backup and isinstance(backup[0], datetime) else None,
        partition_columns=tuple(
            (str(r[0]), str(r[1]), str(r[2]), bool(r[3])) for r in rows.get("partition_columns", ())
        ),
    )


def missing_prerequisites(entry: DatabaseEntry, options: PrereqOptions, found: FoundDatabase) -> list[str]:
    """Everything ``entry``'s source still lacks for ``options`` (``[]`` when ready)."""
    login = login_of(entry, options)
    database = database_of(entry)
    ongoing = options.mode == "ongoing"
    missing: list[str] = []
    if not found.login_exists:
        missing.append(f"login {login} does not exist: CREATE LOGIN it (password from the endpoint's secret)")
    if "VIEW SERVER STATE" not in found.server_permissions:
        missing.append(f"login {login} lacks VIEW SERVER STATE")
    if not found.user_exists:
        missing.append(f"{database}: no database user for {login}")
    role = "db_owner" if ongoing else "db_datareader"
    # db_owner holds every permission of db_datareader
    if role not in found.roles and not (role == "db_datareader" and "db_owner" in found.roles):
        missing.append(f"{database}: {login} is not a member of {role}")
    for permission in ("VIEW DATABASE STATE", "VIEW DEFINITION"):
        if permission not in found.database_permissions and "db_owner" not in found.roles:
            missing.append(f"{database}: {login} lacks {permission}")
    if not found.tables:
        missing.append(f"{database}: the catalog's patterns select no table (DMS would capture nothing)")
    for schema, table, column, nullable in found.partition_columns:
        if nullable:
            missing.append(
                f"{database}: partition column {schema}.{table}.{column} is nullable; a ranges load skips NULL rows"
            )
    if not ongoing:
        return missing
    if found.recovery_model != "FULL":
        missing.append(
            f"{database}: recovery model is {found.recovery_model or 'unknown'}, ongoing replication needs FULL"
        )
    if found.last_full_backup is None:
        missing.append(f"{database}: no full backup recorded in msdb; take one before starting CDC")
    if not found.cdc_enabled:
        missing.append(f"{database}: MS-CDC is not enabled on the database")
    untracked = [f"{s}.{t}" for s, t, tracked in found.tables if not tracked]
    if untracked:
        shown = ", ".join(untracked[:10]) + (f" and {len(untracked) - 10} more" if len(untracked) > 10 else "")
        missing.append(f"{database}: {len(untracked)} selected table(s) not tracked by MS-CDC: {shown}")
    if found.cdc_enabled and found.capture_polling_interval != options.polling_interval_seconds:
        missing.append(
            f"{database}: capture job polling interval is {found.capture_polling_interval}, "
            f"expected {options.polling_interval_seconds}"
        )
    return missing

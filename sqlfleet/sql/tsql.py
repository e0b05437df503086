"""T-SQL for the SQL Server side of AWS DMS: the prerequisite scripts, the read-only checks and
the size query behind the catalog's ``size_mb`` (pure; reference/dms.md §6, from the DMS user guide).

Per server (in ``master``/``msdb``) and per database: the DMS login's user, roles and grants
(full-load only: ``db_datareader``; ongoing replication: ``db_owner`` plus the server grants
DMS needs without sysadmin), the FULL recovery model check, MS-CDC on the database
(``sp_cdc_enable_db``, or ``msdb.dbo.rds_cdc_enable_db`` on Amazon RDS) and on every table the
catalog selects (``sp_cdc_enable_table ... @role_name = NULL``), and the capture job settings.

Tables are selected on the server by the catalog's patterns (``LIKE``, with ``_`` and ``[``
escaped exactly as in the DMS selection rules), so the script covers the tables that exist
when it runs. Statements are idempotent; identifiers go through ``quote_tsql_identifier`` and
strings through ``quote_tsql_string``. No password ever appears in a script.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field

from sqlfleet.catalog import DatabaseEntry
from sqlfleet.dms.mappings import dms_pattern
from sqlfleet.sql.identifiers import quote_tsql_identifier, quote_tsql_string

PrereqMode = Literal["full-load", "ongoing"]
Variant = Literal["on-prem", "rds"]
Script = list[str]

# sp_cdc_change_job's documented maximum (24 h): the capture job then runs rarely, so the log
# stays readable for DMS (the RDS guidance); some builds reset values above 3599 to 5 s.
DEFAULT_POLLING_INTERVAL = 86_399
_MSDB_GRANTS = (
    ("EXECUTE", "dbo.sp_stop_job"),
    ("EXECUTE", "dbo.sp_start_job"),
    ("SELECT", "dbo.backupset"),
    ("SELECT", "dbo.backupmediafamily"),
    ("SELECT", "dbo.backupfile"),
)


class PrereqOptions(BaseModel):
    """What the scripts prepare: full load only or ongoing replication, on premises or on RDS."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: PrereqMode = "ongoing"
    variant: Variant = "on-prem"
    polling_interval_seconds: int = Field(default=DEFAULT_POLLING_INTERVAL, ge=1, le=86_399)
    default_login: str = "dms_user"


def server_of(entry: DatabaseEntry) -> str:
    """``host:port`` of an mssql source (port 1433 when the URL has none)."""
    url = urlsplit(entry.source)
    return f"{url.hostname}:{url.port or 1433}"


def database_of(entry: DatabaseEntry) -> str:
    """The SQL Server database name of an mssql source."""
    return unquote(urlsplit(entry.source).path.lstrip("/"))


def login_of(entry: DatabaseEntry, options: PrereqOptions) -> str:
    """The DMS endpoint's login: the catalog's username, else the options' default."""
    return entry.credentials.username if entry.credentials else options.default_login


def _if_missing(condition: str, statement: str) -> str:
    # "BEGIN <stmt>; END" (not a bare IF body) so every tool, sqlglot included, reads the body
    return f"IF NOT EXISTS ({condition}) BEGIN {statement}; END"


def _create_user(login: str) -> str:
    # Fails with "is not a valid login" when the login is missing: create it first (see the header).
    ident = quote_tsql_identifier(login)
    return _if_missing(
        f"SELECT 1 FROM sys.database_principals WHERE name = {quote_tsql_string(login)}",
        f"CREATE USER {ident} FOR LOGIN {ident}",
    )


def server_statements(login: str, options: PrereqOptions) -> Script:
    """Once per server and login: server-level grants (and, for ongoing replication on premises
    without sysadmin, the users and grants in ``master`` and ``msdb`` DMS needs)."""
    user = quote_tsql_identifier(login)
    script = ["USE [master]", f"GRANT VIEW SERVER STATE TO {user}"]
    if options.mode == "ongoing" and options.variant == "on-prem":
        script += [_create_user(login), f"GRANT SELECT ON FN_DBLOG TO {user}", "USE [msdb]", _create_user(login)]
        script += [f"GRANT {permission} ON OBJECT::{obj} TO {user}" for permission, obj in _MSDB_GRANTS]
    if options.mode == "ongoing" and options.variant == "rds":
        # Multi-AZ RDS instances keep the capture job setting here (reference/dms.md §6).
        interval = options.polling_interval_seconds
        script.append(f"EXEC rdsadmin.dbo.rds_set_configuration N'cdc_capture_pollinginterval', {interval}")
    return script


def selection_predicate(entry: DatabaseEntry, schema_column: str = "s.name", table_column: str = "t.name") -> str:
    """A WHERE predicate selecting the catalog's schemas and tables (``LIKE``, DMS escaping)."""

    def any_like(column: str, patterns: tuple[str, ...]) -> str:
        return " OR ".join(f"{column} LIKE {quote_tsql_string(dms_pattern(p))}" for p in patterns)

    parts = [f"({any_like(schema_column, entry.schemas.include)})", f"({any_like(table_column, entry.tables.include)})"]
    if entry.schemas.exclude:
        parts.append(f"NOT ({any_like(schema_column, entry.schemas.exclude)})")
    if entry.tables.exclude:
        parts.append(f"NOT ({any_like(table_column, entry.tables.exclude)})")
    return " AND ".join(parts)


def _selected_tables(entry: DatabaseEntry, *, sys_views: str = "sys", joins: str = "") -> str:
    # memory-optimized tables support neither MS-CDC nor DMS; system tables are never selected
    return (
        f"FROM {sys_views}.tables AS t JOIN {sys_views}.schemas AS s ON s.schema_id = t.schema_id {joins}"
        f"WHERE t.is_ms_shipped = 0 AND t.is_memory_optimized = 0 AND {selection_predicate(entry)}"
    )


def database_statements(entry: DatabaseEntry, options: PrereqOptions) -> Script:
    """Every statement of ``database_batches``, in order."""
    return [statement for batch in database_batches(entry, options) for statement in batch]


def database_batches(entry: DatabaseEntry, options: PrereqOptions) -> list[Script]:
    """Per database: the recovery model check (its own batch, so ``sqlcmd -b`` stops before
    anything else when it fails), then the login's user and roles, MS-CDC on the database and on
    its selected tables, and the capture job (the check and MS-CDC for ongoing replication only)."""
    database = database_of(entry)
    name = quote_tsql_string(database)
    login = login_of(entry, options)
    user = quote_tsql_identifier(login)
    use = f"USE {quote_tsql_identifier(database)}"
    ongoing = options.mode == "ongoing"
    batches: list[Script] = []
    if ongoing:
        message = quote_tsql_string(
            f"{database} must use the FULL recovery model for ongoing replication: "
            f"ALTER DATABASE {quote_tsql_identifier(database)} SET RECOVERY FULL, then take a full backup"
        )
        # RAISERROR formats its message printf-style: a '%' in a name must be doubled
        raise_error = f"RAISERROR({message.replace('%', '%%')}, 16, 1)"
        check = f"SELECT 1 FROM sys.databases WHERE name = {name} AND recovery_model_desc = N'FULL'"
        batches.append([use, _if_missing(check, raise_error)])
    # Ongoing replication needs db_owner (DMS user guide); a full load only reads.
    role = "[db_owner]" if ongoing else "[db_datareader]"
    script = [
        use,
        _create_user(login),
        f"ALTER ROLE {role} ADD MEMBER {user}",
        f"GRANT VIEW DATABASE STATE TO {user}",
        f"GRANT VIEW DEFINITION TO {user}",
    ]
    batches.append(script)
    if not ongoing:
        return batches
    enable_db = f"EXEC msdb.dbo.rds_cdc_enable_db {name}" if options.variant == "rds" else "EXEC sys.sp_cdc_enable_db"
    script += [
        _if_missing(f"SELECT 1 FROM sys.databases WHERE name = {name} AND is_cdc_enabled = 1", enable_db),
        # One sp_cdc_enable_table per selected table not yet tracked (reruns add only new tables),
        # concatenated with FOR XML PATH (ordered, escaping-safe, SQL Server 2008+); net changes
        # need a primary key.
        "DECLARE @sqlfleet_cdc NVARCHAR(MAX) = (SELECT N'EXEC sys.sp_cdc_enable_table @source_schema = N' "
        "+ QUOTENAME(s.name, N'''') + N', @source_name = N' + QUOTENAME(t.name, N'''') "
        "+ N', @role_name = NULL, @supports_net_changes = ' + CASE WHEN EXISTS (SELECT 1 FROM sys.indexes AS i "
        "WHERE i.object_id = t.object_id AND i.is_primary_key = 1) THEN N'1' ELSE N'0' END + N';' + NCHAR(10) "
        f"{_selected_tables(entry)} AND t.is_tracked_by_cdc = 0 ORDER BY s.name, t.name "
        "FOR XML PATH(''), TYPE).value(N'.', N'NVARCHAR(MAX)')",
        "IF @sqlfleet_cdc IS NOT NULL BEGIN EXEC sys.sp_executesql @sqlfleet_cdc; END",
        f"EXEC sys.sp_cdc_change_job @job_type = N'capture', @pollinginterval = {options.polling_interval_seconds}",
        # the new polling interval takes effect when the capture job restarts
        "EXEC sys.sp_cdc_stop_job @job_type = N'capture'",
        "EXEC sys.sp_cdc_start_job @job_type = N'capture'",
    ]
    return batches


def _by_server(entries: list[DatabaseEntry]) -> dict[str, list[DatabaseEntry]]:
    by_server: dict[str, list[DatabaseEntry]] = {}
    for entry in entries:
        by_server.setdefault(server_of(entry), []).append(entry)
    return by_server


def prerequisites_script(entries: list[DatabaseEntry], options: PrereqOptions) -> str:
    """The whole script for ``entries`` (mssql sources), grouped by server; batches end in ``GO``
    (run with ``sqlcmd -b -i <file>`` so it stops at the first error)."""
    by_server = _by_server(entries)
    out = [
        f"-- sqlfleet: SQL Server prerequisites for AWS DMS ({options.mode}, {options.variant})",
        "-- Run as sysadmin (on premises) or the RDS master user: sqlcmd -b -S <server> -i <this file>",
        "-- The DMS logins must exist first; their passwords belong in the endpoints' secrets, e.g.",
        "--   CREATE LOGIN [dms_user] WITH PASSWORD = '<from the secret>', CHECK_POLICY = ON;",
    ]
    for server, members in by_server.items():
        out.append(f"\n-- ===== server {server} =====")
        for login in sorted({login_of(e, options) for e in members}):
            out.append(f"-- login {login}")
            out.append(render_batch(server_statements(login, options)))
        for entry in members:
            out.append(f"-- database {database_of(entry)} (catalog: {entry.name})")
            out.extend(render_batch(batch) for batch in database_batches(entry, options))
    return "\n".join(out) + "\n"


def size_query(entry: DatabaseEntry) -> str:
    """A read-only query returning ``entry``'s catalog name and its ``size_mb``: megabytes of the
    tables the catalog selects, counted as ``sp_spaceused`` counts data (in-row data pages plus
    LOB and row-overflow pages of each heap or clustered index; nonclustered indexes, which DMS
    does not copy, left out). It names the database (``[Db].sys.tables``), so it runs from any
    database, and a database that is missing fails it rather than measuring another one."""
    sys_views = f"{quote_tsql_identifier(database_of(entry))}.sys"
    joins = (
        f"JOIN {sys_views}.partitions AS p ON p.object_id = t.object_id AND p.index_id < 2 "
        # a LOB unit belongs to a partition, an in-row or row-overflow unit to its heap or B-tree
        f"JOIN {sys_views}.allocation_units AS a "
        "ON a.container_id = CASE WHEN a.type = 2 THEN p.partition_id ELSE p.hobt_id END "
    )
    pages = "CASE WHEN a.type = 1 THEN a.data_pages ELSE a.used_pages END"
    # 8 KB pages; three decimals so a database with any data never shows 0
    return (
        f"SELECT {quote_tsql_string(entry.name)} AS catalog_name, "
        f"CAST(COALESCE(SUM({pages}), 0) * 8 / 1024.0 AS DECIMAL(18, 3)) AS size_mb "
        f"{_selected_tables(entry, sys_views=sys_views, joins=joins)}"
    )


def sizes_script(entries: list[DatabaseEntry]) -> str:
    """Read-only T-SQL reporting each of ``entries`` (mssql sources) ``size_mb`` for the catalog,
    grouped by server, one batch per database (one that fails does not hide the others)."""
    out = [
        "-- sqlfleet: the size_mb of each database's selected tables, for its catalog entry (read-only)",
        "-- Run as a login that sees the tables' metadata (the DMS login will do): sqlcmd -S <server> -i <this file>",
        "-- A size_mb of 0 means no data yet: leave size_mb out for that database.",
    ]
    for server, members in _by_server(entries).items():
        out.append(f"\n-- ===== server {server} =====")
        out.extend(render_batch([size_query(entry)]) for entry in members)
    return "\n".join(out) + "\n"


def _two_part(schema: str, table: str) -> str:
    return f"{quote_tsql_identifier(schema)}.{quote_tsql_identifier(table)}"


def render_batch(statements: Script) -> str:
    """Statements ending in ``;``, one per line, then ``GO``."""
    return "".join(f"{s};\n" for s in statements) + "GO"


def check_queries(entry: DatabaseEntry, options: PrereqOptions) -> dict[str, str]:
    """Read-only queries, run in the source database, whose rows ``sqlfleet.prereqs`` compares
    with what the options need. Each returns the columns its name says."""
    login = quote_tsql_string(login_of(entry, options))
    queries = {
        "login": f"SELECT name FROM sys.server_principals WHERE name = {login}",
        "server_permissions": "SELECT p.permission_name FROM sys.server_permissions AS p "
        "JOIN sys.server_principals AS sp ON sp.principal_id = p.grantee_principal_id "
        f"WHERE sp.name = {login} AND p.state IN ('G', 'W')",
        "database": "SELECT recovery_model_desc, is_cdc_enabled FROM sys.databases WHERE name = DB_NAME()",
        "user": f"SELECT name FROM sys.database_principals WHERE name = {login}",
        "roles": "SELECT r.name FROM sys.database_role_members AS m "
        "JOIN sys.database_principals AS r ON r.principal_id = m.role_principal_id "
        "JOIN sys.database_principals AS u ON u.principal_id = m.member_principal_id "
        f"WHERE u.name = {login}",
        "database_permissions": "SELECT p.permission_name FROM sys.database_permissions AS p "
        "JOIN sys.database_principals AS u ON u.principal_id = p.grantee_principal_id "
        f"WHERE u.name = {login} AND p.class = 0 AND p.state IN ('G', 'W')",
        "tables": f"SELECT s.name, t.name, t.is_tracked_by_cdc {_selected_tables(entry)} ORDER BY s.name, t.name",
        "capture_job": "SELECT pollinginterval FROM msdb.dbo.cdc_jobs "
        "WHERE database_id = DB_ID() AND job_type = N'capture'",
        "full_backup": "SELECT MAX(backup_finish_date) FROM msdb.dbo.backupset "
        "WHERE database_name = DB_NAME() AND type = 'D'",
    }
    ranges = [(o, o.partition.column) for o in entry.table_options if o.partition and o.partition.column]
    if ranges:
        # a ranges parallel load skips rows whose column is NULL (reference/dms.md §2)
        conditions = " OR ".join(
            f"(c.object_id = OBJECT_ID({quote_tsql_string(_two_part(o.schema_name, o.table_name))}) "
            f"AND c.name = {quote_tsql_string(column)})"
            for o, column in ranges
        )
        queries["partition_columns"] = (
            "SELECT OBJECT_SCHEMA_NAME(c.object_id), OBJECT_NAME(c.object_id), c.name, c.is_nullable "
            f"FROM sys.columns AS c WHERE {conditions}"
        )
    return queries

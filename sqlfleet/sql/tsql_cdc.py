"""Pure builders of the T-SQL that reads MS-CDC on a SQL Server source (a bounded window).

``changes_sql`` reads one capture instance through ``cdc.fn_cdc_get_all_changes_<instance>``
with the ``all`` row filter (after images only, as DMS writes them), LSNs as 20 hex digits and
commit times from ``sys.fn_cdc_map_lsn_to_time``; ``max_lsn_sql`` is where a full load that
starts now lets the next delta continue. Enabling MS-CDC (``sp_cdc_enable_db`` /
``sp_cdc_enable_table``) is part of the ongoing-replication prerequisites in ``sqlfleet.sql.tsql``.
Identifiers and strings go through ``quote_tsql_identifier`` / ``quote_tsql_string``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlfleet.cdc.positions import lsn_hex
from sqlfleet.sql.identifiers import quote_tsql_identifier as q
from sqlfleet.sql.identifiers import quote_tsql_string


def capture_instance_name(schema: str, table: str) -> str:
    """MS-CDC's default capture instance name, ``<schema>_<table>``."""
    return f"{schema}_{table}"


def max_lsn_sql() -> str:
    """The database's latest LSN as 20 hex digits (``sys.fn_cdc_get_max_lsn``)."""
    return "SELECT CONVERT(VARCHAR(20), sys.fn_cdc_get_max_lsn(), 2) AS max_lsn"


def changes_sql(capture_instance: str, columns: Sequence[str], after_lsn: int, stop_at: datetime) -> str:
    """The changes of one capture instance after ``after_lsn`` up to ``stop_at``, in LSN order.

    Returns no rows for an empty window (``fn_cdc_get_all_changes`` rejects a range whose start
    is past its end) and raises an error when changes after ``after_lsn`` were already cleaned up
    (``sys.fn_cdc_get_min_lsn``), which means a full load is needed.
    """
    if not columns:
        raise ValueError("a capture instance has at least one column")
    instance = quote_tsql_string(capture_instance)
    function = f"cdc.{q(f'fn_cdc_get_all_changes_{capture_instance}')}"
    selected = ", ".join(q(c) for c in columns)
    stop = quote_tsql_string(stop_at.strftime("%Y-%m-%d %H:%M:%S.%f")[:23])
    # RAISERROR formats its message printf-style: a '%' in a name must be doubled
    cleaned = f"changes of {capture_instance} after the start position were cleaned up: run a full load"
    lsn, seqval, operation = q("__$start_lsn"), q("__$seqval"), q("__$operation")
    statements = [
        "SET NOCOUNT ON",
        f"DECLARE @from_lsn BINARY(10) = sys.fn_cdc_increment_lsn({lsn_hex(after_lsn)})",
        f"DECLARE @to_lsn BINARY(10) = sys.fn_cdc_map_time_to_lsn('largest less than or equal', {stop})",
        f"IF @from_lsn < sys.fn_cdc_get_min_lsn({instance}) BEGIN "
        f"RAISERROR({quote_tsql_string(cleaned).replace('%', '%%')}, 16, 1); RETURN; END",
        "IF @from_lsn <= @to_lsn BEGIN "
        f"SELECT CONVERT(VARCHAR(20), {lsn}, 2) AS start_lsn, CONVERT(VARCHAR(20), {seqval}, 2) AS seqval, "
        f"{operation} AS operation, CONVERT(VARCHAR(23), sys.fn_cdc_map_lsn_to_time({lsn}), 121) AS commit_time, "
        f"{selected} FROM {function}(@from_lsn, @to_lsn, N'all') ORDER BY {lsn}, {seqval}, {operation}; END",
    ]
    return "".join(f"{statement};\n" for statement in statements)


__all__ = ["capture_instance_name", "changes_sql", "max_lsn_sql"]

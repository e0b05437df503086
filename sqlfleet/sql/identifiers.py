"""Quoting of SQL identifiers and literals: the one place it happens.

DuckDB, SQLite and Snowflake all accept the SQL-standard double-quoted identifier with
embedded quotes doubled, so one function serves every dialect this project emits.
"""

from __future__ import annotations


def quote_identifier(name: str) -> str:
    """Return ``name`` as a double-quoted SQL identifier, doubling embedded quotes.

    Raises ``ValueError`` for an empty name or one containing a NUL character, which no
    engine accepts inside a quoted identifier.
    """
    if not name:
        raise ValueError("empty SQL identifier")
    if "\x00" in name:
        raise ValueError(f"SQL identifier contains a NUL character: {name!r}")
    return '"' + name.replace('"', '""') + '"'


def qualified_name(*parts: str) -> str:
    """Join quoted identifiers with dots: ``qualified_name("s", "t")`` is ``"s"."t"``."""
    return ".".join(quote_identifier(p) for p in parts)


def quote_literal(value: str) -> str:
    """Return ``value`` as a single-quoted SQL string literal, doubling embedded quotes."""
    if "\x00" in value:
        raise ValueError("SQL string literal contains a NUL character")
    return "'" + value.replace("'", "''") + "'"


def quote_tsql_identifier(name: str) -> str:
    """Return ``name`` as a SQL Server bracketed identifier, doubling embedded ``]``.

    SQL Server identifiers hold at most 128 characters; ``ValueError`` for longer, empty or
    NUL-holding names.
    """
    if not name:
        raise ValueError("empty SQL Server identifier")
    if "\x00" in name:
        raise ValueError(f"SQL Server identifier contains a NUL character: {name!r}")
    if len(name) > 128:
        raise ValueError(f"SQL Server identifier longer than 128 characters: {name[:32]!r}...")
    return "[" + name.replace("]", "]]") + "]"


def quote_tsql_string(value: str) -> str:
    """Return ``value`` as a SQL Server Unicode string literal (``N'...'``), doubling quotes."""
    if "\x00" in value:
        raise ValueError("SQL string literal contains a NUL character")
    return "N'" + value.replace("'", "''") + "'"

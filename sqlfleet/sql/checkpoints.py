"""Pure builders of the DuckDB statements of the warehouse checkpoint store.

One row per (database, mode) in ``_sqlfleet.cdc_checkpoints``; a write is one ``INSERT OR
REPLACE`` on the primary key, so it is atomic on its own. Values are ``?`` parameters.
"""

from __future__ import annotations

from sqlfleet.sql.bookkeeping import BOOKKEEPING_SCHEMA
from sqlfleet.sql.identifiers import qualified_name, quote_identifier

CHECKPOINT_TABLE = "cdc_checkpoints"
#: Columns in table order; ``database`` and ``mode`` form the primary key.
CHECKPOINT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("database", "VARCHAR"),
    ("mode", "VARCHAR"),
    ("position", "VARCHAR"),
    ("task", "VARCHAR"),
    ("batch_id", "VARCHAR"),
    ("written_at", "TIMESTAMP"),
)
_TABLE = qualified_name(BOOKKEEPING_SCHEMA, CHECKPOINT_TABLE)
_NAMES = ", ".join(quote_identifier(n) for n, _ in CHECKPOINT_COLUMNS)


def create_checkpoints_sql() -> list[str]:
    """The bookkeeping schema and the checkpoint table (idempotent)."""
    columns = ", ".join(f"{quote_identifier(n)} {t} NOT NULL" for n, t in CHECKPOINT_COLUMNS)
    key = f"{quote_identifier('database')}, {quote_identifier('mode')}"
    return [
        f"CREATE SCHEMA IF NOT EXISTS {quote_identifier(BOOKKEEPING_SCHEMA)}",
        f"CREATE TABLE IF NOT EXISTS {_TABLE} ({columns}, PRIMARY KEY ({key}))",
    ]


def read_checkpoint_sql() -> str:
    """The checkpoint of one database (``?``) and mode (``?``)."""
    return f"SELECT {_NAMES} FROM {_TABLE} WHERE {quote_identifier('database')} = ? AND {quote_identifier('mode')} = ?"


def write_checkpoint_sql() -> str:
    """Insert or replace one checkpoint row (one ``?`` per column, in column order)."""
    marks = ", ".join("?" for _ in CHECKPOINT_COLUMNS)
    return f"INSERT OR REPLACE INTO {_TABLE} ({_NAMES}) VALUES ({marks})"

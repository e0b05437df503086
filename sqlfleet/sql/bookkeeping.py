"""The warehouse's own tables (load manifest, reconciliation ledger), described once for every dialect.

Columns carry a logical kind; each dialect's SQL module maps the kinds to its types, so the
DuckDB and Snowflake warehouses keep the same columns in the same order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Literal

from sqlfleet.sql.identifiers import quote_identifier

ColumnKind = Literal["text", "int", "timestamp"]

#: The schema (in every warehouse) holding the manifest, the ledger and scratch tables.
BOOKKEEPING_SCHEMA = "_sqlfleet"
MANIFEST_TABLE = "load_manifest"
LEDGER_TABLE = "reconciliation_ledger"

ManifestKind = Literal["load", "cdc"]

#: Manifest columns in table order. ``kind`` is ``load`` for a full load's files and ``cdc`` for
#: change files; a full load replaces only the ``load`` rows of its target.
MANIFEST_COLUMNS: tuple[tuple[str, ColumnKind], ...] = (
    ("database", "text"),
    ("schema_name", "text"),
    ("table_name", "text"),
    ("target", "text"),
    ("file_key", "text"),
    ("size", "int"),
    ("rows", "int"),
    ("batch_id", "text"),
    ("loaded_at", "timestamp"),
    ("status", "text"),
    ("kind", "text"),
)

#: Columns of the reconciliation ledger (``sqlfleet.ledger.LedgerEntry``) in table order.
LEDGER_COLUMNS: tuple[tuple[str, ColumnKind], ...] = (
    ("recorded_at", "timestamp"),
    ("batch_id", "text"),
    ("database", "text"),
    ("schema_name", "text"),
    ("table_name", "text"),
    ("target", "text"),
    ("kind", "text"),
    ("source_rows", "int"),
    ("engine_rows", "int"),
    ("footer_rows", "int"),
    ("warehouse_rows", "int"),
    ("previous_rows", "int"),
    ("inserted", "int"),
    ("updated", "int"),
    ("deleted", "int"),
    ("load_status", "text"),
    ("status", "text"),
    ("problems", "text"),
)

__all__ = [
    "BOOKKEEPING_SCHEMA",
    "LEDGER_COLUMNS",
    "LEDGER_TABLE",
    "MANIFEST_COLUMNS",
    "MANIFEST_TABLE",
    "ColumnKind",
    "ManifestKind",
    "column_list",
    "columns_ddl",
    "scratch_table_name",
]


def columns_ddl(columns: Sequence[tuple[str, ColumnKind]], types: Mapping[ColumnKind, str]) -> str:
    """``"a" TYPE, "b" TYPE`` for a column description and a dialect's type of each kind."""
    return ", ".join(f"{quote_identifier(name)} {types[kind]}" for name, kind in columns)


def column_list(columns: Sequence[tuple[str, ColumnKind]]) -> str:
    """``"a", "b"``: the quoted column names in order."""
    return ", ".join(quote_identifier(name) for name, _ in columns)


def scratch_table_name(purpose: str, database: str, target: str) -> str:
    """Name of a scratch table (staging) of one target: plain ASCII whatever the target's name.

    A digest of the exact target name keeps targets that differ only in case or punctuation
    apart, and keeps odd characters out of statements that tools parse loosely (fakesnow's
    COPY describes its target unquoted).
    """
    digest = hashlib.sha256(f"{database}\x00{target}".encode()).hexdigest()[:16]
    return f"{purpose}_{digest}"

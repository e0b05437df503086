"""What a delta needs to know about a source besides its changes: merge keys and views.

The key each table's changes are merged on: the catalog's ``key_columns``, else the source's.

DMS applies changes by primary key; CDC files do not carry it, so the loader needs it from
elsewhere. In order: a ``table_options`` entry's ``key_columns`` (the way to name a unique key
of a table without a primary key), then, for a SQLite source, the key its capture recorded
(``cdc.index_columns``) or its primary key. A table with no key at all is merged append-only
by the warehouse (``<target>__changes``). SQL Server sources are not read by the flow: their
keys come from the catalog.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

from sqlfleet.catalog_models import DatabaseEntry
from sqlfleet.cdc.sqlite_capture import is_capture_object, read_capture_state
from sqlfleet.errors import SourceError
from sqlfleet.sql.identifiers import quote_identifier


def _read(path: Path, kind: str, with_keys: bool) -> dict[str, tuple[str, ...]]:
    """Names of the tables or views of a SQLite source (capture objects excluded), with their keys."""
    uri = f"{path.resolve().as_uri()}?mode=ro"
    found: dict[str, tuple[str, ...]] = {}
    try:
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as con:
            names = [
                r[0]
                for r in con.execute("SELECT name FROM sqlite_master WHERE type = ? ORDER BY name", (kind,))
                if not r[0].startswith("sqlite_") and not is_capture_object(r[0])
            ]
            for name in names:
                key: tuple[str, ...] = ()
                if with_keys:
                    info = con.execute(f"PRAGMA table_info({quote_identifier(name)})").fetchall()
                    key = tuple(row[1] for row in sorted(info, key=lambda r: r[5]) if row[5])
                found[name] = key
    except sqlite3.Error as exc:
        raise SourceError(f"reading the schema of {path}: {exc}") from exc
    return found


def source_keys(entry: DatabaseEntry) -> dict[tuple[str, str], tuple[str, ...]]:
    """Key columns by (schema, table) as the source knows them; empty for SQL Server sources."""
    if entry.source_kind != "sqlite":
        return {}
    schema = entry.default_schema
    keys = {(schema, t): k for t, k in _read(entry.sqlite_path, "table", with_keys=True).items() if k}
    for table, instance in read_capture_state(entry.sqlite_path).instances.items():
        if instance.key_columns:
            keys[(schema, table)] = instance.key_columns
    return keys


def merge_key(
    entry: DatabaseEntry, known: dict[tuple[str, str], tuple[str, ...]], schema: str, table: str
) -> tuple[str, ...]:
    """The key of ``schema.table``: its catalog ``key_columns`` if set, else ``known`` (``source_keys``)."""
    option = entry.option_for(schema, table)
    if option is not None and option.key_columns:
        return option.key_columns
    return known.get((schema, table), ())


def selected_views(entry: DatabaseEntry) -> tuple[str, ...]:
    """``schema.view`` of every view the catalog selects (what a full load would replicate).

    A SQL Server source is not read here: it reports ``<schema>.<all views>`` per included
    schema pattern, so the skipped views are still named in the run's report.
    """
    if not entry.views:
        return ()
    if entry.source_kind != "sqlite":
        return tuple(f"{schema}.<all views>" for schema in entry.schemas.include)
    schema = entry.default_schema
    views = _read(entry.sqlite_path, "view", with_keys=False)
    return tuple(f"{schema}.{name}" for name in views if entry.wants_table(schema, name))


__all__ = ["merge_key", "selected_views", "source_keys"]

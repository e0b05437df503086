"""What the DuckDB warehouse knows about its targets without asking: existence and latest full load.

A full load first checks whether its batch is already loaded. Asking DuckDB costs a catalog and
a manifest query per table (about 1.3 ms, some 15% of loading a demo table, bench/warehouse_load.py); but the
warehouse's connection is the file's only writer (DuckDB locks the file), so everything it
committed is all there is, and it can remember it: read once in bulk, updated after each
commit, dropped whenever arbitrary SQL runs on the connection.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

import duckdb

from sqlfleet.sql import duckdb as sql

Files = set[tuple[str, int]]


class Prior(NamedTuple):
    """What a full load found before its transaction (true until then: it holds the target's lock)."""

    exists: bool
    manifest: bool
    unchanged_rows: int | None


@dataclass
class _State:
    exists: bool
    manifest: bool = False
    files: Files = field(default_factory=set)


class TargetStates:
    """Per ``(schema, table)``: does it exist, does it have full-load manifest rows, of which files."""

    def __init__(self) -> None:
        self._states: dict[tuple[str, str], _State] | None = None

    def forget(self) -> None:
        """Drop everything (after SQL this class did not see); the next ``prior`` reads it again."""
        self._states = None

    def prior(
        self, con: duckdb.DuckDBPyConnection, database: str, target: str, files: Iterable[tuple[str, int]]
    ) -> Prior:
        """The target's state, with its row count when its latest batch has exactly ``files``."""
        state = self._load(con).get((database, target), _State(exists=False))
        if not (state.exists and state.manifest) or state.files != set(files):
            return Prior(state.exists, state.manifest, None)
        row = con.execute(sql.count_rows_sql(database, target)).fetchone()
        return Prior(True, True, int(row[0]) if row else 0)

    def exists(self, con: duckdb.DuckDBPyConnection, database: str, target: str) -> bool:
        """Whether the target table exists (a change window without files asks for every table)."""
        state = self._load(con).get((database, target))
        return state is not None and state.exists

    def _load(self, con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], _State]:
        if self._states is None:
            self._states = {}
            for schema, name in con.execute(sql.all_tables_sql()).fetchall():
                self._states[(schema, name)] = _State(exists=True)
            for source_database, name, key, size in con.execute(sql.latest_load_manifests_sql()).fetchall():
                known = self._states.setdefault((source_database, name), _State(exists=False))
                known.manifest = True
                if key is not None:
                    known.files.add((key, int(size)))
        return self._states

    def remember(self, database: str, target: str, exists: bool, files: Files | None) -> None:
        """Record a committed load: ``files`` of its manifest rows (``None``: it wrote no full-load rows)."""
        if self._states is None:
            return
        state = self._states.setdefault((database, target), _State(exists=exists))
        state.exists = exists
        if files is not None:
            state.manifest, state.files = True, files
        elif not exists:
            state.manifest, state.files = False, set()

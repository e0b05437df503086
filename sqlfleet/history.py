"""What earlier runs of each database cost, kept in the lake so the planner can order starts.

One JSON object per database and mode at ``_sqlfleet/history/<database>/<mode>.json`` holds the
last few runs (replication seconds, rows, source size). The planner's estimate is their median,
which one unusually slow night does not swing. Objects are written with ``Lake.open_output``
(one PUT, or one rename on a folder), so a reader sees the old or the new history, never half.
"""

from __future__ import annotations

import logging
import statistics
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Literal

from pydantic import BaseModel, ConfigDict

from sqlfleet import layout
from sqlfleet.engines.base import MigrationType
from sqlfleet.errors import LakeError, SqlfleetError
from sqlfleet.lake import Lake
from sqlfleet.schedule import HistoryEntry

log = logging.getLogger(__name__)

#: Runs kept per database and mode.
KEPT_RUNS = 5


class DatabaseHistory(BaseModel):
    """The last ``KEPT_RUNS`` runs of one database in one mode, oldest first."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1] = 1
    database: str
    mode: MigrationType
    runs: tuple[HistoryEntry, ...]

    def with_run(self, entry: HistoryEntry) -> DatabaseHistory:
        """This history with ``entry`` appended, the oldest runs dropped past ``KEPT_RUNS``."""
        return self.model_copy(update={"runs": (*self.runs, entry)[-KEPT_RUNS:]})

    def typical(self) -> HistoryEntry | None:
        """The median run (seconds, rows and source size each by median); ``None`` without runs."""
        if not self.runs:
            return None
        sizes = [r.source_bytes for r in self.runs if r.source_bytes is not None]
        return HistoryEntry(
            seconds=statistics.median(r.seconds for r in self.runs),
            rows=int(statistics.median(r.rows for r in self.runs)),
            source_bytes=int(statistics.median(sizes)) if sizes else None,
            finished_at=self.runs[-1].finished_at,
        )


class LakeHistory:
    """Reads and writes ``_sqlfleet/history/`` in a lake."""

    def __init__(self, lake: Lake, max_workers: int = 16) -> None:
        self.lake = lake
        self.max_workers = max_workers

    def read(self, database: str, mode: MigrationType) -> DatabaseHistory | None:
        """One database's history; ``None`` when it has none. A damaged object is a ``LakeError``."""
        key = layout.history_key(database, mode)
        return self.lake.read_model(key, DatabaseHistory, "history")

    def typical(self, databases: Sequence[str], mode: MigrationType) -> dict[str, HistoryEntry]:
        """The typical run of every database of ``databases`` that has a history in ``mode``.

        One LIST finds which histories exist, then they are read in parallel. A history that
        cannot be read is left out with a warning: the planner falls back to the source size.
        """
        wanted = set(databases)
        present = []
        for obj in self.lake.list(layout.history_prefix()):
            parts = obj.key.split("/")
            if len(parts) == 4 and parts[2] in wanted and parts[3] == f"{mode}.json":
                present.append(parts[2])

        def one(database: str) -> tuple[str, HistoryEntry | None]:
            try:
                found = self.read(database, mode)
            except SqlfleetError as exc:
                log.warning("ignoring the history of %s: %s", database, exc)
                return database, None
            return database, found.typical() if found else None

        workers = max(1, min(self.max_workers, len(present)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sqlfleet-history") as pool:
            return {name: entry for name, entry in pool.map(one, present) if entry is not None}

    def append(self, database: str, mode: MigrationType, entry: HistoryEntry) -> None:
        """Add one run to a database's history (read, append, one atomic write)."""
        try:
            prior = self.read(database, mode)
        except LakeError as exc:  # a damaged history is replaced rather than blocking every later run
            log.warning("replacing the history of %s: %s", database, exc)
            prior = None
        history = (prior or DatabaseHistory(database=database, mode=mode, runs=())).with_run(entry)
        with self.lake.open_output(layout.history_key(database, mode)) as out:
            out.write(history.model_dump_json(indent=2).encode())


__all__ = ["KEPT_RUNS", "DatabaseHistory", "LakeHistory"]

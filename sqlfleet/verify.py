"""Verification of one database's replication: engine statistics against the lake's Parquet footers.

The core (``reconcile``) is pure: it takes the engine's ``TableStatistics``, one listing of the
database prefix and the footers of the expected data files, and returns a ``VerifyReport``.
``verify_database`` is the thin shell that reads those inputs from a ``Lake``: one LIST and one
footer read per expected data file; no data pages are read.

A ``cdc`` run is verified by ``reconcile_changes`` / ``verify_changes``: the expected files are
the table's CDC files whose stamps fall in the run's window (the task's start and stop times),
and their footer rows must equal the engine's ``Inserts + Updates + Deletes``. CDC files of
earlier windows and the full-load files are neither verified nor part of the report's tables,
so they are never loaded again.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Literal, NamedTuple

from pydantic import BaseModel, ConfigDict

from sqlfleet import layout
from sqlfleet.engines.base import TableStatistics
from sqlfleet.errors import LakeError
from sqlfleet.lake import Footer, Lake, LakeObject
from sqlfleet.sourcetypes import OP_COLUMN

ProblemKind = Literal[
    "engine_error",
    "missing_files",
    "row_count_mismatch",
    "schema_mismatch",
    "corrupt_file",
    "unexpected_files",
    "stray_object",
]
Severity = Literal["error", "warning"]

#: The one state in which DMS has finished a table's full load.
COMPLETED_STATE = "Table completed"


class VerifyProblem(BaseModel):
    """One finding; ``table`` is ``"schema.table"`` or ``None`` for objects outside any table."""

    model_config = ConfigDict(frozen=True)

    table: str | None
    kind: ProblemKind
    message: str
    severity: Severity


class VerifiedTable(BaseModel):
    """One expected table: what the engine reported and which files back it (sorted by key)."""

    model_config = ConfigDict(frozen=True)

    schema_name: str
    table: str
    expected_rows: int
    footer_rows: int
    files: tuple[LakeObject, ...]
    bytes: int
    ok: bool
    #: The source's own row count, when the engine knows it (``TableStatistics.source_rows``).
    source_rows: int | None = None

    @property
    def name(self) -> str:
        """``schema.table``, as problems name it."""
        return f"{self.schema_name}.{self.table}"


class VerifyReport(BaseModel):
    """The verification of one database."""

    model_config = ConfigDict(frozen=True)

    database: str
    tables: tuple[VerifiedTable, ...]
    problems: tuple[VerifyProblem, ...]
    #: ``cdc``: ``tables`` hold each table's change files of one window, to be merged, not replaced.
    mode: Literal["full-load", "cdc"] = "full-load"

    @property
    def ok(self) -> bool:
        """True when no problem has error severity (warnings do not block a load)."""
        return not any(p.severity == "error" for p in self.problems)

    @property
    def failed_tables(self) -> tuple[str, ...]:
        """``schema.table`` of every table that is not loadable, in table order."""
        return tuple(t.name for t in self.tables if not t.ok)

    @property
    def loadable_tables(self) -> tuple[VerifiedTable, ...]:
        """Tables without an error; the loader loads exactly these."""
        return tuple(t for t in self.tables if t.ok)


class _Sorted(NamedTuple):
    """The database's objects sorted into expected load files, CDC files and strays."""

    load_files: dict[tuple[str, str], list[LakeObject]]
    cdc_files: dict[tuple[str, str], list[LakeObject]]
    stray: dict[str, list[LakeObject]]


def _stray_group(key: str) -> str:
    """Top-level prefix ``db/schema/table/`` of a key (or the key itself when it is shallower)."""
    parts = key.split("/")
    if len(parts) > 3:
        return "/".join(parts[:3]) + "/"
    return key


def _sort_objects(database: str, expected: set[tuple[str, str]], objects: Sequence[LakeObject]) -> _Sorted:
    load: dict[tuple[str, str], list[LakeObject]] = defaultdict(list)
    cdc: dict[tuple[str, str], list[LakeObject]] = defaultdict(list)
    stray: dict[str, list[LakeObject]] = defaultdict(list)
    for obj in objects:
        parsed = layout.parse_key(obj.key)
        ident = (parsed.schema_name, parsed.table) if parsed is not None else None
        if parsed is None or parsed.database != database or ident not in expected:
            stray[_stray_group(obj.key)].append(obj)
        elif parsed.kind == "cdc":
            cdc[(parsed.schema_name, parsed.table)].append(obj)
        else:
            load[(parsed.schema_name, parsed.table)].append(obj)
    return _Sorted(dict(load), dict(cdc), dict(stray))


def expected_data_keys(database: str, stats: Sequence[TableStatistics], objects: Sequence[LakeObject]) -> list[str]:
    """Keys of the full-load files of expected tables: the only files whose footers are read."""
    expected = {(s.schema_name, s.table_name) for s in stats}
    files = _sort_objects(database, expected, objects).load_files
    return sorted(o.key for objs in files.values() for o in objs)


def _table_problems(
    stat: TableStatistics, files: Sequence[LakeObject], footers: Mapping[str, Footer | LakeError]
) -> tuple[int, list[VerifyProblem]]:
    """Footer row total and the error problems of one expected table."""
    name = f"{stat.schema_name}.{stat.table_name}"
    problems: list[VerifyProblem] = []

    def error(kind: ProblemKind, message: str) -> None:
        problems.append(VerifyProblem(table=name, kind=kind, message=message, severity="error"))

    if stat.table_state != COMPLETED_STATE:
        detail = f": {stat.error}" if stat.error else ""
        error("engine_error", f"the engine reports {stat.table_state!r} for {name}{detail}")

    good: list[Footer] = []
    for obj in files:
        footer = footers.get(obj.key)
        if isinstance(footer, Footer):
            good.append(footer)
        else:
            why = str(footer) if footer is not None else "its footer was not read"
            error("corrupt_file", f"{obj.key}: {why}")
    footer_rows = sum(f.rows for f in good)

    if stat.full_load_rows > 0 and not files:
        error("missing_files", f"the engine loaded {stat.full_load_rows} rows but no file exists for {name}")
    elif stat.full_load_rows == 0 and files:
        error(
            "unexpected_files",
            f"the engine loaded 0 rows but {len(files)} file(s) with {footer_rows} rows exist for {name}",
        )
    elif len(good) == len(files) and footer_rows != stat.full_load_rows:
        # With a corrupt file the footer total is partial; the corrupt_file problem says enough.
        error(
            "row_count_mismatch",
            f"{name}: footers hold {footer_rows} rows in {len(files)} file(s); "
            f"the engine reported {stat.full_load_rows} (FullLoadRows)",
        )

    if good:
        first = good[0]
        for other in good[1:]:
            if not other.schema_.equals(first.schema_, check_metadata=False):
                error(
                    "schema_mismatch",
                    f"{other.key} has a different schema than {first.key}: "
                    f"{_schema_text(other)} vs {_schema_text(first)}",
                )
                break
    return footer_rows, problems


def _schema_text(footer: Footer) -> str:
    return "(" + ", ".join(f"{f.name}: {f.type}" for f in footer.schema_) + ")"


def reconcile(
    database: str,
    stats: Sequence[TableStatistics],
    objects: Sequence[LakeObject],
    footers: Mapping[str, Footer | LakeError],
) -> VerifyReport:
    """Compare the engine's statistics with the lake's objects and footers (pure).

    ``objects`` is the listing of the database prefix; ``footers`` maps the keys of the expected
    load files to their footer or the ``LakeError`` that reading it raised. Schema and table names
    match exactly (case-sensitive). Objects that belong to no expected table are reported as
    ``stray_object`` warnings, one per top-level prefix; CDC files under an expected table are a
    warning and are not part of the table's files.
    """
    expected = {(s.schema_name, s.table_name) for s in stats}
    found = _sort_objects(database, expected, objects)
    tables: list[VerifiedTable] = []
    problems: list[VerifyProblem] = []
    seen: set[tuple[str, str]] = set()
    for stat in sorted(stats, key=lambda s: (s.schema_name, s.table_name)):
        ident = (stat.schema_name, stat.table_name)
        if ident in seen:
            continue
        seen.add(ident)
        files = tuple(sorted(found.load_files.get(ident, []), key=lambda o: o.key))
        footer_rows, table_problems = _table_problems(stat, files, footers)
        problems.extend(table_problems)
        tables.append(
            VerifiedTable(
                schema_name=stat.schema_name,
                table=stat.table_name,
                expected_rows=stat.full_load_rows,
                footer_rows=footer_rows,
                files=files,
                bytes=sum(o.size for o in files),
                ok=not table_problems,
                source_rows=stat.source_rows,
            )
        )
        cdc = found.cdc_files.get(ident, [])
        if cdc:
            problems.append(
                VerifyProblem(
                    table=f"{stat.schema_name}.{stat.table_name}",
                    kind="stray_object",
                    message=f"cdc files present, not part of a full load: {len(cdc)} file(s) "
                    f"under {layout.table_prefix(database, *ident)} were not verified and will not be loaded",
                    severity="warning",
                )
            )
    problems.extend(_stray_problems(found.stray))
    return VerifyReport(database=database, tables=tuple(tables), problems=tuple(problems))


def _stray_problems(stray: Mapping[str, list[LakeObject]]) -> list[VerifyProblem]:
    """One warning per top-level prefix holding objects that belong to no expected table."""
    return [
        VerifyProblem(
            table=None,
            kind="stray_object",
            message=f"{len(objs)} object(s) ({sum(o.size for o in objs)} bytes) under {prefix!r} belong to no "
            f"expected table; not loaded (first: {objs[0].key!r})",
            severity="warning",
        )
        for prefix, objs in sorted(stray.items())
    ]


def verify_database(lake: Lake, database: str, stats: Sequence[TableStatistics]) -> VerifyReport:
    """Verify one database in the lake: one LIST of its prefix, footers of expected files only."""
    objects = lake.list(layout.database_prefix(database))
    keys = expected_data_keys(database, stats, objects)
    footers = lake.read_footers(keys) if keys else {}
    return reconcile(database, stats, objects, footers)


# -- CDC ------------------------------------------------------------------------------------------


class CdcWindow(BaseModel):
    """The time span in which a ``cdc`` task wrote its files (its start and stop dates)."""

    model_config = ConfigDict(frozen=True)

    start: datetime
    stop: datetime

    def contains(self, key: str) -> bool:
        """Whether the CDC file ``key`` was written in this window (by its stamp)."""
        parsed = layout.parse_key(key)
        if parsed is None or parsed.cdc_stamp is None:
            return False
        return layout.cdc_stamp_in_window(parsed.cdc_stamp, self.start, self.stop)


def _window_files(
    database: str, stats: Sequence[TableStatistics], objects: Sequence[LakeObject], window: CdcWindow
) -> tuple[dict[tuple[str, str], list[LakeObject]], dict[str, list[LakeObject]]]:
    expected = {(s.schema_name, s.table_name) for s in stats}
    found = _sort_objects(database, expected, objects)
    files = {ident: [o for o in objs if window.contains(o.key)] for ident, objs in found.cdc_files.items()}
    return files, found.stray


def expected_change_keys(
    database: str, stats: Sequence[TableStatistics], objects: Sequence[LakeObject], window: CdcWindow
) -> list[str]:
    """Keys of the expected tables' CDC files written in ``window``: the only footers read."""
    files, _ = _window_files(database, stats, objects, window)
    return sorted(o.key for objs in files.values() for o in objs)


def _change_problems(
    stat: TableStatistics, files: Sequence[LakeObject], footers: Mapping[str, Footer | LakeError]
) -> tuple[int, list[VerifyProblem]]:
    """Footer row total and the error problems of one table's window of changes."""
    name = f"{stat.schema_name}.{stat.table_name}"
    changes = stat.inserts + stat.updates + stat.deletes
    problems: list[VerifyProblem] = []

    def error(kind: ProblemKind, message: str) -> None:
        problems.append(VerifyProblem(table=name, kind=kind, message=message, severity="error"))

    if stat.table_state != COMPLETED_STATE:
        detail = f": {stat.error}" if stat.error else ""
        error("engine_error", f"the engine reports {stat.table_state!r} for {name}{detail}")
    good = [f for f in (footers.get(o.key) for o in files) if isinstance(f, Footer)]
    for obj in files:
        if not isinstance(footers.get(obj.key), Footer):
            error("corrupt_file", f"{obj.key}: {footers.get(obj.key) or 'its footer was not read'}")
    rows = sum(f.rows for f in good)
    if changes > 0 and not files:
        error(
            "missing_files", f"the engine captured {changes} changes but no CDC file of this window exists for {name}"
        )
    elif changes == 0 and files:
        error("unexpected_files", f"the engine captured no change but {len(files)} CDC file(s) of this window exist")
    elif len(good) == len(files) and rows != changes:
        error(
            "row_count_mismatch",
            f"{name}: CDC footers hold {rows} rows in {len(files)} file(s); the engine reported {changes} changes "
            f"(Inserts {stat.inserts} + Updates {stat.updates} + Deletes {stat.deletes})",
        )
    for footer in good:
        if footer.schema_.names[:1] != [OP_COLUMN] or not footer.schema_.equals(good[0].schema_, check_metadata=False):
            error("schema_mismatch", f"{footer.key} is not a CDC file like {good[0].key}: {_schema_text(footer)}")
            break
    return rows, problems


def reconcile_changes(
    database: str,
    stats: Sequence[TableStatistics],
    objects: Sequence[LakeObject],
    footers: Mapping[str, Footer | LakeError],
    window: CdcWindow,
) -> VerifyReport:
    """Compare a ``cdc`` run's statistics with the CDC files of its window (pure)."""
    files_by_table, stray = _window_files(database, stats, objects, window)
    tables: list[VerifiedTable] = []
    problems: list[VerifyProblem] = []
    for stat in sorted(
        {(s.schema_name, s.table_name): s for s in stats}.values(), key=lambda s: (s.schema_name, s.table_name)
    ):
        files = tuple(sorted(files_by_table.get((stat.schema_name, stat.table_name), []), key=lambda o: o.key))
        rows, table_problems = _change_problems(stat, files, footers)
        problems.extend(table_problems)
        tables.append(
            VerifiedTable(
                schema_name=stat.schema_name,
                table=stat.table_name,
                expected_rows=stat.inserts + stat.updates + stat.deletes,
                footer_rows=rows,
                files=files,
                bytes=sum(o.size for o in files),
                ok=not table_problems,
            )
        )
    problems.extend(_stray_problems(stray))
    return VerifyReport(database=database, tables=tuple(tables), problems=tuple(problems), mode="cdc")


def verify_changes(lake: Lake, database: str, stats: Sequence[TableStatistics], window: CdcWindow) -> VerifyReport:
    """Verify one ``cdc`` run in the lake: one LIST, footers of the window's CDC files only."""
    objects = lake.list(layout.database_prefix(database))
    keys = expected_change_keys(database, stats, objects, window)
    footers = lake.read_footers(keys) if keys else {}
    return reconcile_changes(database, stats, objects, footers, window)

"""CDC in the embedded engine: one bounded window of a source's changes, written as DMS writes CDC.

A ``cdc`` task reads the changes after its start position up to its stop position
(``CdcStartPosition`` / ``CdcStopPosition``, reference/dms.md §4) from the source's change tables
(``sqlfleet.cdc.sqlite_capture``) and writes, per table, timestamp-named Parquet files
(``<db>/<schema>/<table>/<stamp>.parquet``, a new file past ``MaxFileSize``) with the columns of
the CDC contract: ``Op`` (``I``, ``U`` with the after image, ``D`` with the before image), the
timestamp column holding the commit time, the data columns typed as in full-load files, and last
the change sequence (``$AR_H_CHANGE_SEQ``). Before images of updates (operation 3) are not written,
as DMS writes only the after image. The window ends at an exact LSN, which becomes the task's
recovery checkpoint: the next window starts right after it, so windows neither overlap nor leave
gaps.

The functions here take everything as arguments, so a test double of another engine can call
them directly.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict

from sqlfleet import layout
from sqlfleet.cdc.positions import (
    RECORD_DIGITS,
    TIMESTAMP_DIGITS,
    format_lsn,
    parse_start_position,
    parse_stop_position,
)
from sqlfleet.cdc.sqlite_capture import (
    OP_AFTER_UPDATE,
    OP_BEFORE_UPDATE,
    OP_DELETE,
    OP_INSERT,
    OPERATION,
    SEQVAL,
    START_LSN,
    CaptureState,
    commit_times,
    lsn_at_time,
    read_capture_state,
    tables_with_changes,
)
from sqlfleet.engines.base import STOP_AT_COMMIT_TIME, STOP_AT_SERVER_TIME, TableStatistics, TaskSpec
from sqlfleet.engines.parquet_writer import RollingParquetFiles
from sqlfleet.engines.sqlite_source import SourceTable, read_table_batches
from sqlfleet.errors import ConfigError, ReplicationError, SourceError
from sqlfleet.lake import Lake
from sqlfleet.sourcetypes import OP_COLUMN, column_type, dms_file_schema
from sqlfleet.sql.identifiers import quote_identifier as q

Clock = Callable[[], datetime]

#: DMS's op letter for each MS-CDC operation code (index = ``__$operation``; 3 is never written).
_OP_LETTERS = pa.array([None, "D", "I", None, "U"], pa.string())
_META = (
    column_type(START_LSN, "bigint", nullable=False),
    column_type(SEQVAL, "bigint", nullable=False),
    column_type(OPERATION, "int", nullable=False),
)


class ChangeWindow(BaseModel):
    """The changes a ``cdc`` run covers: LSNs ``from_lsn < lsn <= to_lsn`` of one source."""

    model_config = ConfigDict(frozen=True)

    from_lsn: int
    to_lsn: int
    stop_reason: str
    capture: CaptureState
    #: Source tables with at least one change in the window; the others are not read.
    changed: frozenset[str] = frozenset()

    @property
    def position(self) -> str:
        """The recovery checkpoint after this window: its last LSN, as DMS writes an LSN."""
        return format_lsn(self.to_lsn)


def _enabled_capture(source_path: Path) -> CaptureState:
    capture = read_capture_state(source_path)
    if not capture.enabled:
        raise SourceError(
            f"change capture is not enabled on {source_path}: run `sqlfleet cdc enable --catalog FILE` first"
        )
    return capture


def capture_position(source_path: Path) -> str:
    """The source's latest LSN: where a delta continues after a full load that starts now."""
    return format_lsn(_enabled_capture(source_path).max_lsn)


def open_change_window(
    source_path: Path, start_position: str | None, stop_position: str | None, resume_from: str | None = None
) -> ChangeWindow:
    """Resolve a task's start and stop positions to an LSN range, from one read of the capture.

    ``start_position`` (an LSN or a date) wins over ``resume_from`` (the task's last recovery
    checkpoint, for ``resume-processing``). The window never reaches past the source's latest
    change, so a change committing while the window is read belongs to the next one.
    """
    if stop_position is None:
        raise ConfigError("the embedded engine runs bounded CDC windows: set a CdcStopPosition (server_time:...)")
    try:
        kind, stop_at = parse_stop_position(stop_position)
        start = start_position or resume_from
        if start is None:
            raise ReplicationError("no CdcStartPosition and no earlier run to resume from: run a full load first")
        parsed = parse_start_position(start)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    capture = _enabled_capture(source_path)
    from_lsn = parsed if isinstance(parsed, int) else lsn_at_time(source_path, parsed)
    if from_lsn > capture.max_lsn:
        raise SourceError(
            f"the start position {start} is past the latest change of {source_path} "
            f"({format_lsn(capture.max_lsn)}): its capture was reset; run a full load (mode=full-load-and-cdc)"
        )
    to_lsn = max(from_lsn, min(lsn_at_time(source_path, stop_at), capture.max_lsn))
    reason = STOP_AT_SERVER_TIME if kind == "server_time" else STOP_AT_COMMIT_TIME
    changed = tables_with_changes(source_path, capture, from_lsn, to_lsn) if to_lsn > from_lsn else frozenset()
    return ChangeWindow(from_lsn=from_lsn, to_lsn=to_lsn, stop_reason=reason, capture=capture, changed=changed)


def cdc_file_schema(table: SourceTable, timestamp_column: str, change_seq_column: str) -> pa.Schema:
    """``Op``, the timestamp, the data columns (as in full-load files), then the change sequence."""
    if change_seq_column.lower() in {c.name.lower() for c in table.columns}:
        raise SourceError(f"column {change_seq_column!r} of {table.name!r} collides with the change-sequence column")
    base = dms_file_schema(list(table.columns), timestamp_column)
    return base.append(pa.field(change_seq_column, pa.string()))


def _change_table(table: SourceTable, window: ChangeWindow) -> SourceTable:
    """The change table of ``table`` as a source to read, checked against the window."""
    name = f"{table.schema_name}.{table.name}"
    instance = window.capture.instance_for(table.name)
    if instance is None:
        raise SourceError(f"{name} is not captured: run `sqlfleet cdc enable` for its database")
    if instance.start_lsn > window.from_lsn:
        raise SourceError(
            f"capture of {name} began at {format_lsn(instance.start_lsn)}, after this window's start "
            f"{format_lsn(window.from_lsn)}: its earlier changes are unknown; run a full load (mode=full-load-and-cdc)"
        )
    names = tuple(c.name for c in table.columns)
    if names != instance.columns:
        raise SourceError(
            f"{name} has columns {list(names)} but its capture has {list(instance.columns)}: "
            "the table changed after capture was enabled; capture it again and run a full load"
        )
    return SourceTable(
        schema_name=table.schema_name, name=instance.change_table, is_view=False, columns=(*_META, *table.columns)
    )


def _dms_batch(source_path: Path, batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """Change-table rows (meta columns first) -> one CDC file batch."""
    lsns, seqvals, operations = batch.column(0), batch.column(1), batch.column(2)
    low, high = pc.min_max(lsns).values()
    times = commit_times(source_path, low.as_py(), high.as_py())
    known = pa.array(sorted(times), pa.int64())
    found = pc.index_in(lsns, value_set=known)
    if found.null_count:
        raise SourceError(f"{source_path}: changes without a commit time in cdc.lsn_time_mapping")
    commit = pc.take(pa.array([times[k] for k in known.to_pylist()], pa.string()), found)
    timestamp = pc.utf8_rpad(commit, width=26, padding="0")
    micros = pc.cast(pc.cast(commit, pa.timestamp("us")), pa.int64())
    seq = pc.binary_join_element_wise(
        pc.utf8_lpad(pc.cast(micros, pa.string()), width=TIMESTAMP_DIGITS, padding="0"),
        pc.utf8_lpad(pc.cast(seqvals, pa.string()), width=RECORD_DIGITS, padding="0"),
        "",
    )
    op = pc.take(_OP_LETTERS, operations)
    return pa.RecordBatch.from_arrays([op, timestamp, *batch.columns[3:], seq], schema=schema)


def write_cdc_window(
    lake: Lake,
    spec: TaskSpec,
    source_path: Path,
    table: SourceTable,
    window: ChangeWindow,
    *,
    clock: Clock,
    batch_rows: int = 100_000,
) -> TableStatistics:
    """Write one table's changes in ``window`` as CDC files; returns its ``Inserts/Updates/Deletes``.

    A window without changes writes nothing (DMS writes no empty files). Raises ``SourceError``
    when the table is not captured, was captured after the window's start, or changed shape.
    """
    change_table = _change_table(table, window)
    schema = cdc_file_schema(table, spec.timestamp_column, spec.change_seq_column)
    if table.name not in window.changed:
        return TableStatistics(
            schema_name=table.schema_name,
            table_name=table.name,
            table_state="Table completed",
            last_update_time=clock(),
        )
    suffix = (
        f"WHERE {q(START_LSN)} > {int(window.from_lsn)} AND {q(START_LSN)} <= {int(window.to_lsn)} "
        f"AND {q(OPERATION)} <> {OP_BEFORE_UPDATE} ORDER BY {q(START_LSN)}, {q(SEQVAL)}, {q(OPERATION)}"
    )
    counts = {OP_INSERT: 0, OP_AFTER_UPDATE: 0, OP_DELETE: 0}
    with RollingParquetFiles(
        lake,
        schema,
        spec.max_file_size_kb * 1024,
        lambda started: layout.cdc_file_key(
            spec.database, table.schema_name, table.name, layout.cdc_stamp(clock(), started)
        ),
    ) as files:
        for batch in read_table_batches(source_path, change_table, batch_rows, suffix):
            for code, n in zip(*pc.value_counts(batch.column(2)).flatten(), strict=True):
                counts[code.as_py()] += n.as_py()
            files.write(_dms_batch(source_path, batch, schema))
    return TableStatistics(
        schema_name=table.schema_name,
        table_name=table.name,
        table_state="Table completed",
        inserts=counts[OP_INSERT],
        updates=counts[OP_AFTER_UPDATE],
        deletes=counts[OP_DELETE],
        last_update_time=clock(),
    )


__all__ = [
    "OP_COLUMN",
    "ChangeWindow",
    "capture_position",
    "cdc_file_schema",
    "open_change_window",
    "write_cdc_window",
]

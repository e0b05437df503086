"""Row-by-row proof that every warehouse table equals its SQLite source table.

The source is read with the standard library and its values are converted here, independently
of the replication engine: ``map_declared_type`` only says which kind a column is, and the
conversions below are written from the type rules (decimal scale with banker's rounding,
datetimes truncated to microseconds, ``real`` as float32, ...). A shared conversion bug would
otherwise pass unnoticed on both sides.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
import struct
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date, datetime, time
from decimal import ROUND_HALF_EVEN, Context, Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
from pydantic import BaseModel, ConfigDict

from sqlfleet.sourcetypes import map_declared_type
from sqlfleet.sql import duckdb as sql
from sqlfleet.sql.identifiers import quote_identifier
from sqlfleet.warehouses.base import target_table_name
from sqlfleet.warehouses.duckdb import DuckDBWarehouse

Row = tuple[Any, ...]
Converter = Callable[[Any], Any]

#: Enough digits for any decimal(38, s) before quantising (the default context has 28).
_DECIMAL_CONTEXT = Context(prec=80)
_FRACTION = re.compile(r"^\d*")


class TableComparison(BaseModel):
    """The comparison of one source table (or view) with its warehouse table."""

    model_config = ConfigDict(frozen=True)

    table: str
    source_rows: int
    warehouse_rows: int | None
    equal: bool
    detail: str


def _split_fraction(text: str) -> tuple[str, int]:
    """``"12:00:01.1234567"`` -> (``"12:00:01"``, 123456): fractional seconds truncated to µs."""
    base, _, fraction = text.strip().partition(".")
    digits = _FRACTION.match(fraction)
    micro = int(((digits.group() if digits else "") + "000000")[:6])
    return base, micro


def to_datetime(value: Any) -> datetime:
    """A SQL Server datetime as text (up to 7 fractional digits) -> ``datetime`` truncated to µs."""
    base, micro = _split_fraction(str(value))
    return datetime.fromisoformat(base).replace(microsecond=micro)


def to_time(value: Any) -> time:
    """A time of day as text (up to 7 fractional digits) -> ``time`` truncated to µs."""
    base, micro = _split_fraction(str(value))
    return time.fromisoformat(base).replace(microsecond=micro)


def to_decimal(value: Any, scale: int) -> Decimal:
    """A number stored as INTEGER, REAL or TEXT -> ``Decimal`` with ``scale`` digits (half-even)."""
    exponent = Decimal(1).scaleb(-scale)
    return Decimal(str(value)).quantize(exponent, rounding=ROUND_HALF_EVEN, context=_DECIMAL_CONTEXT)


def to_float32(value: Any) -> float:
    """A number rounded to the nearest float32, as a ``real`` column holds it."""
    result: float = struct.unpack("<f", struct.pack("<f", float(value)))[0]
    return result


def _to_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true"}
    return bool(value)


def _to_bytes(value: Any) -> bytes:
    return bytes(value) if isinstance(value, bytes | bytearray | memoryview) else str(value).encode()


def converter(declared: str, storage_hint: str | None = None) -> Converter:
    """The conversion from a SQLite value to the Python value DuckDB returns for this column."""
    kind, arrow_type = map_declared_type(declared, storage_hint)
    if kind == "decimal":
        assert isinstance(arrow_type, pa.Decimal128Type)
        scale = arrow_type.scale
        return lambda v: to_decimal(v, scale)
    if kind == "float":
        return to_float32 if arrow_type == pa.float32() else float
    simple: dict[str, Converter] = {
        "integer": int,
        "boolean": _to_bool,
        "datetime": to_datetime,
        "date": lambda v: date.fromisoformat(str(v).strip()[:10]),
        "time": to_time,
        "binary": _to_bytes,
        "text": str,
    }
    return simple[kind]


def _source_objects(src: sqlite3.Connection, include_views: bool) -> list[str]:
    kinds = ("table", "view") if include_views else ("table",)
    marks = ", ".join("?" for _ in kinds)
    rows = src.execute(
        f"SELECT name FROM sqlite_master WHERE type IN ({marks}) AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
        # change capture's own tables (sqlfleet.cdc.sqlite_capture) are not source tables
        "AND name NOT LIKE 'cdc.%' ORDER BY name",
        kinds,
    ).fetchall()
    return [r[0] for r in rows]


def _source_columns(src: sqlite3.Connection, name: str) -> list[tuple[str, Converter]]:
    columns = []
    for _cid, column, declared, *_ in src.execute(f"PRAGMA table_info({quote_identifier(name)})"):
        hint = None
        if not (declared or "").strip():
            # View columns computed by an expression have no declared type: type by a sample.
            sample = src.execute(
                f"SELECT typeof({quote_identifier(column)}) FROM {quote_identifier(name)} "
                f"WHERE {quote_identifier(column)} IS NOT NULL LIMIT 1"
            ).fetchone()
            hint = sample[0] if sample else None
        columns.append((column, converter(declared or "", hint)))
    return columns


def _read_source(src: sqlite3.Connection, name: str, columns: list[tuple[str, Converter]]) -> list[Row]:
    select = ", ".join(quote_identifier(c) for c, _ in columns)
    convert = [f for _, f in columns]
    return [
        tuple(None if v is None else f(v) for f, v in zip(convert, row, strict=True))
        for row in src.execute(f"SELECT {select} FROM {quote_identifier(name)}")
    ]


def _sort_key(row: Row) -> tuple[tuple[int, str], ...]:
    return tuple((0, "") if v is None else (1, repr(v)) for v in row)


def _short(row: Row, limit: int = 200) -> str:
    text = repr(row)
    return text if len(text) <= limit else text[:limit] + "...)"


def compare_rows(columns: list[str], source: list[Row], warehouse: list[Row]) -> tuple[bool, str]:
    """Compare two multisets of rows; the detail names the first differing row and its columns."""
    if sorted(source, key=_sort_key) == sorted(warehouse, key=_sort_key):
        return True, f"{len(source)} rows equal"
    only_source = sorted((Counter(source) - Counter(warehouse)).elements(), key=_sort_key)
    only_warehouse = sorted((Counter(warehouse) - Counter(source)).elements(), key=_sort_key)
    parts = [f"{len(only_source)} source row(s) not in the warehouse, {len(only_warehouse)} extra"]
    if only_source and only_warehouse:
        a, b = only_source[0], only_warehouse[0]
        differing = [(c, x, y) for c, x, y in zip(columns, a, b, strict=True) if x != y]
        values = ", ".join(f"{c}: source {x!r} vs warehouse {y!r}" for c, x, y in differing[:5])
        parts.append(
            f"first differing row: source {_short(a)} vs warehouse {_short(b)}; "
            f"columns {[c for c, _, _ in differing]}: {values}"
        )
    elif only_source:
        parts.append(f"first missing row: {_short(only_source[0])}")
    else:
        parts.append(f"first extra row: {_short(only_warehouse[0])}")
    return False, "; ".join(parts)


def _compare_table(
    src: sqlite3.Connection,
    *,
    wh: DuckDBWarehouse,
    database: str,
    name: str,
    default_schema: str,
    timestamp_column: str,
) -> TableComparison:
    label = f"{default_schema}.{name}"
    target = target_table_name(default_schema, name, default_schema)
    columns = _source_columns(src, name)
    source = _read_source(src, name, columns)
    warehouse_columns = [r[0] for r in wh.query(sql.table_columns_sql(database, target))]

    def result(equal: bool, detail: str, warehouse_rows: int | None) -> TableComparison:
        return TableComparison(
            table=label, source_rows=len(source), warehouse_rows=warehouse_rows, equal=equal, detail=detail
        )

    if not warehouse_columns:
        if not source:
            return result(True, "empty at source; DMS writes no files", None)
        return result(False, f"no table {database}.{target} in the warehouse", None)
    names = [c for c, _ in columns]
    loaded = [c for c in warehouse_columns if c != timestamp_column]
    if loaded != names:
        rows = wh.row_count(database, target)
        return result(False, f"columns differ: source {names} vs warehouse {loaded}", rows)
    warehouse = wh.query(sql.select_columns_sql(database, target, names))
    equal, detail = compare_rows(names, source, warehouse)
    return result(equal, detail, len(warehouse))


@contextlib.contextmanager
def _warehouse(warehouse: DuckDBWarehouse | Path) -> Iterator[DuckDBWarehouse]:
    if isinstance(warehouse, DuckDBWarehouse):
        yield warehouse
        return
    with DuckDBWarehouse(Path(warehouse), read_only=True) as opened:
        yield opened


def compare_database(  # noqa: PLR0917 - the demo's documented call shape
    sqlite_path: Path,
    warehouse: DuckDBWarehouse | Path,
    database: str,
    default_schema: str = "dbo",
    include_views: bool = True,
    timestamp_column: str = "_dms_ts",
) -> list[TableComparison]:
    """Compare every table (and view) of a SQLite source with its warehouse table, row by row.

    ``warehouse`` is an open ``DuckDBWarehouse`` or the path of its file (then opened read-only;
    pass the open warehouse instead when this process already has the file open). Rows are
    compared as multisets; the warehouse's ``timestamp_column`` is ignored.
    """
    uri = f"{Path(sqlite_path).resolve().as_uri()}?mode=ro"
    with _warehouse(warehouse) as wh, contextlib.closing(sqlite3.connect(uri, uri=True)) as src:
        return [
            _compare_table(
                src,
                wh=wh,
                database=database,
                name=name,
                default_schema=default_schema,
                timestamp_column=timestamp_column,
            )
            for name in _source_objects(src, include_views)
        ]


def format_comparison(results: list[TableComparison]) -> str:
    """A compact terminal table of comparisons, with a one-line summary."""
    header = ("table", "source", "warehouse", "equal", "detail")
    body = [
        (
            r.table,
            str(r.source_rows),
            "-" if r.warehouse_rows is None else str(r.warehouse_rows),
            "yes" if r.equal else "NO",
            r.detail,
        )
        for r in results
    ]
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(4)]
    lines = [
        "  ".join([*(cell.ljust(w) for cell, w in zip(row[:4], widths, strict=True)), row[4]]).rstrip()
        for row in [header, *body]
    ]
    equal = sum(r.equal for r in results)
    lines.append(f"{equal}/{len(results)} tables equal")
    return "\n".join(lines)

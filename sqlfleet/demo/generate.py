"""Write the demo fleet: deterministic SQLite files shaped like SQL Server OLTP databases.

Values are stored the way a copy from SQL Server lands in SQLite: datetimes as text (``.fff``
or 7 fractional digits), decimals as text that NUMERIC affinity turns into INTEGER or REAL,
``bit`` as 0/1, ``uniqueidentifier`` as upper-case text, ``varbinary`` as blobs. Every value
comes from a ``random.Random`` seeded by (seed, table, column), so the same arguments give the
same content, independent of chunking or of the other tables.
"""

from __future__ import annotations

import hashlib
import os
import random
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

from sqlfleet.demo.schema import (
    BIG_TABLE,
    CITIES,
    EDGE_TABLE,
    FIRST,
    LAST,
    TABLES,
    VIEWS,
    WORDS,
    Column,
    Table,
    edge_rows,
)
from sqlfleet.sql.identifiers import quote_identifier

FLEET_NAMES: tuple[str, ...] = (
    "sales_eu", "sales_us", "crm_apac", "hr_global", "inventory_emea", "finance_na", "billing_eu",
    "support_latam", "logistics_apac", "marketing_us", "payroll_emea", "procurement_na",
)  # fmt: skip

_CHUNK_ROWS = 20_000
_BASE_DAY = date(2015, 1, 1)


@dataclass(frozen=True)
class GeneratedDatabase:
    """One generated SQLite file; ``tables`` maps table name to ``count(*)`` read back from it."""

    name: str
    path: Path
    tables: dict[str, int] = field(hash=False)
    views: tuple[str, ...] = ()

    @property
    def total_rows(self) -> int:
        """Rows over all tables."""
        return sum(self.tables.values())


def fleet_database_names(count: int) -> list[str]:
    """The first ``count`` database names; past the fixed list they repeat with ``_2``, ``_3``, ..."""
    names = []
    for i in range(count):
        base, lap = FLEET_NAMES[i % len(FLEET_NAMES)], i // len(FLEET_NAMES)
        names.append(f"{base}_{lap + 1}" if lap else base)
    return names


def planned_row_counts(scale: float = 1.0, big_table_rows: int | None = None) -> dict[str, int]:
    """Rows each table gets: ``rows * scale`` (at least 1 unless the table is meant empty).

    The edge-value table keeps its fixed rows whatever the scale; ``big_table_rows`` overrides
    the row count of the biggest table.
    """
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    if big_table_rows is not None and big_table_rows < 0:
        raise ValueError(f"big_table_rows must not be negative, got {big_table_rows}")
    counts = {}
    for table in TABLES:
        if table.name == EDGE_TABLE:
            counts[table.name] = len(edge_rows())
        elif table.name == BIG_TABLE and big_table_rows is not None:
            counts[table.name] = big_table_rows
        else:
            counts[table.name] = max(1, round(table.rows * scale)) if table.rows else 0
    return counts


def scale_for_total_rows(total_rows: int, big_table_rows: int | None = None) -> float:
    """The ``scale`` that makes one database about ``total_rows`` rows (e.g. a 5M-row benchmark)."""
    scaled = sum(t.rows for t in TABLES if t.name != EDGE_TABLE and (big_table_rows is None or t.name != BIG_TABLE))
    fixed = len(edge_rows()) + (big_table_rows or 0)
    return max(total_rows - fixed, 1) / scaled


def generate_fleet(out_dir: Path, databases: int = 3, seed: int = 7, scale: float = 1.0) -> list[GeneratedDatabase]:
    """Create ``databases`` SQLite files ``out_dir/<name>.db``, replacing any that exist.

    Each database gets its own seed derived from ``seed`` and its name, so they differ from each
    other but are the same on every run.
    """
    if databases < 0:
        raise ValueError(f"databases must not be negative, got {databases}")
    out_dir.mkdir(parents=True, exist_ok=True)
    return [
        generate_database(out_dir / f"{name}.db", _database_seed(seed, name), scale)
        for name in fleet_database_names(databases)
    ]


def generate_database(
    path: Path, seed: int, scale: float = 1.0, big_table_rows: int | None = None
) -> GeneratedDatabase:
    """Create one demo database at ``path`` (atomically replacing it) and return what it holds."""
    sizes = planned_row_counts(scale, big_table_rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        conn = sqlite3.connect(tmp, isolation_level=None)
        try:
            # Nothing to recover if generation dies halfway: the temp file is simply discarded.
            conn.execute("PRAGMA journal_mode=OFF")
            conn.execute("PRAGMA synchronous=OFF")
            conn.execute("BEGIN")
            for table in TABLES:
                conn.execute(create_table_sql(table))
                _fill_table(conn, table, seed, sizes)
            for view in VIEWS:
                conn.execute(f"CREATE VIEW {quote_identifier(view.name)} AS {view.select}")
            conn.execute("COMMIT")
            tables = {t.name: _count(conn, t.name) for t in TABLES}
        finally:
            conn.close()
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return GeneratedDatabase(path.stem, path, tables, tuple(v.name for v in VIEWS))


def create_table_sql(table: Table) -> str:
    """``CREATE TABLE`` with the SQL Server declared types, NOT NULL and the primary key."""
    lines = [
        f"{quote_identifier(c.name)} {_type_sql(c.declared)}{'' if c.nullable else ' NOT NULL'}" for c in table.columns
    ]
    lines.append(f"PRIMARY KEY ({', '.join(quote_identifier(k) for k in table.primary_key)})")
    return f"CREATE TABLE {quote_identifier(table.name)} (\n  " + ",\n  ".join(lines) + "\n)"


def _type_sql(declared: str) -> str:
    # SQLite's type grammar allows only numbers in parentheses, so "nvarchar(max)" must be quoted;
    # PRAGMA table_info and sqlite3_column_decltype then report it unquoted, as SQL Server spells it.
    return quote_identifier(declared) if "(max)" in declared.lower() else declared


def _database_seed(seed: int, name: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}:{name}".encode()).digest()[:8], "big")


def _count(conn: sqlite3.Connection, table: str) -> int:
    row = conn.execute(f"SELECT count(*) FROM {quote_identifier(table)}").fetchone()
    return int(row[0])


def _fill_table(conn: sqlite3.Connection, table: Table, seed: int, sizes: Mapping[str, int]) -> None:
    marks = ", ".join("?" * len(table.columns))
    sql = f"INSERT INTO {quote_identifier(table.name)} VALUES ({marks})"
    if table.name == EDGE_TABLE:
        conn.executemany(sql, edge_rows())
        return
    rngs = [
        (random.Random(f"{seed}/{table.name}/{c.name}"), random.Random(f"{seed}/{table.name}/{c.name}/null"))
        for c in table.columns
    ]
    total = sizes[table.name]
    for start in range(0, total, _CHUNK_ROWS):
        rows = range(start, min(total, start + _CHUNK_ROWS))
        columns = [
            _column(c, rng, null_rng, rows, sizes) for c, (rng, null_rng) in zip(table.columns, rngs, strict=True)
        ]
        conn.executemany(sql, zip(*columns, strict=True))


def _column(
    col: Column, rng: random.Random, null_rng: random.Random, rows: range, sizes: Mapping[str, int]
) -> list[object]:
    values = _GENERATORS[col.kind](col, rng, rows, sizes)
    if col.null_rate:
        draw, rate = null_rng.random, col.null_rate
        values = [None if draw() < rate else v for v in values]
    if rows.start < col.leading_nulls:
        stop = min(col.leading_nulls, rows.stop) - rows.start
        values[:stop] = [None] * stop
    return values


Generator = Callable[[Column, random.Random, range, Mapping[str, int]], list[object]]


def _serial(col: Column, rng: random.Random, rows: range, sizes: Mapping[str, int]) -> list[object]:
    return list(range(rows.start + 1, rows.stop + 1))


def _group(col: Column, rng: random.Random, rows: range, sizes: Mapping[str, int]) -> list[object]:
    return [i // col.step + 1 for i in rows]


def _cycle(col: Column, rng: random.Random, rows: range, sizes: Mapping[str, int]) -> list[object]:
    return [i % col.step + 1 for i in rows]


def _ref(col: Column, rng: random.Random, rows: range, sizes: Mapping[str, int]) -> list[object]:
    draw, n = rng.random, max(sizes[col.ref], 1)
    return [int(draw() * n) + 1 for _ in rows]


def _int(col: Column, rng: random.Random, rows: range, sizes: Mapping[str, int]) -> list[object]:
    draw, lo, span = rng.random, int(col.lo), int(col.hi) - int(col.lo) + 1
    return [lo + int(draw() * span) for _ in rows]


def _bit(col: Column, rng: random.Random, rows: range, sizes: Mapping[str, int]) -> list[object]:
    draw, p = rng.random, col.p
    return [1 if draw() < p else 0 for _ in rows]


def _decimal(col: Column, rng: random.Random, rows: range, sizes: Mapping[str, int]) -> list[object]:
    # Text in fixed notation, as str(Decimal) gives it; SQLite's NUMERIC affinity then stores it as
    # REAL, or as INTEGER when the amount is whole (the trap readers must survive).
    draw, scale, whole = rng.random, col.scale, col.p
    unit = 10**scale
    lo, span = round(col.lo * unit), round(col.hi * unit) - round(col.lo * unit) + 1
    # One "whole?" draw right after each value keeps the sequence independent of chunk boundaries.
    units = [u - u % unit if whole and draw() < whole else u for u in (lo + int(draw() * span) for _ in rows)]
    if not scale:
        return [str(u) for u in units]
    frac = f"{{}}.{{:0{scale}d}}"
    return [frac.format(*divmod(u, unit)) if u >= 0 else "-" + _fixed(-u, scale) for u in units]


def _fixed(units: int, scale: int) -> str:
    if not scale:
        return str(units)
    whole, frac = divmod(abs(units), 10**scale)
    return f"{'-' if units < 0 else ''}{whole}.{frac:0{scale}d}"


def _float(col: Column, rng: random.Random, rows: range, sizes: Mapping[str, int]) -> list[object]:
    draw, lo, width = rng.random, col.lo, col.hi - col.lo
    return [lo + draw() * width for _ in rows]


def _real(col: Column, rng: random.Random, rows: range, sizes: Mapping[str, int]) -> list[object]:
    # Multiples of 1/64 are exact in float32, so a cast to the declared 4-byte real loses nothing.
    draw, lo, steps = rng.random, round(col.lo * 64), round((col.hi - col.lo) * 64) + 1
    return [(lo + int(draw() * steps)) / 64 for _ in rows]


@lru_cache(maxsize=32)
def _days(lo: int, hi: int) -> tuple[str, ...]:
    return tuple((_BASE_DAY + timedelta(days=d)).isoformat() for d in range(lo, hi + 1))


def _datetime3(col: Column, rng: random.Random, rows: range, sizes: Mapping[str, int]) -> list[object]:
    # SQL Server datetime ticks are 1/300 s, so milliseconds end in 0, 3 or 7.
    draw, days = rng.random, _days(int(col.lo), int(col.hi))
    n = len(days)
    return [
        f"{days[int(draw() * n)]} {_clock(int(draw() * 86400))}.{(int(draw() * 300) * 10 + 1) // 3:03d}" for _ in rows
    ]


def _datetime7(col: Column, rng: random.Random, rows: range, sizes: Mapping[str, int]) -> list[object]:
    draw, days = rng.random, _days(int(col.lo), int(col.hi))
    n = len(days)
    return [f"{days[int(draw() * n)]} {_clock(int(draw() * 86400))}.{int(draw() * 10**7):07d}" for _ in rows]


def _clock(seconds: int) -> str:
    return _clock_faces()[seconds]


@lru_cache(maxsize=1)
def _clock_faces() -> tuple[str, ...]:
    return tuple(f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86400))


def _date(col: Column, rng: random.Random, rows: range, sizes: Mapping[str, int]) -> list[object]:
    draw, days = rng.random, _days(int(col.lo), int(col.hi))
    n = len(days)
    return [days[int(draw() * n)] for _ in rows]


def _datestep(col: Column, rng: random.Random, rows: range, sizes: Mapping[str, int]) -> list[object]:
    return [(_BASE_DAY + timedelta(days=int(col.hi) * (i % col.step))).isoformat() for i in rows]


def _time(col: Column, rng: random.Random, rows: range, sizes: Mapping[str, int]) -> list[object]:
    draw = rng.random
    return [f"{_clock(int(draw() * 86400))}.{int(draw() * 10**7):07d}" for _ in rows]


def _guid(col: Column, rng: random.Random, rows: range, sizes: Mapping[str, int]) -> list[object]:
    out: list[object] = []
    for _ in rows:
        # Version 4 and RFC 4122 variant bits, as NEWID() produces.
        bits = (rng.getrandbits(128) & ~(0xF << 76) & ~(0x3 << 62)) | (0x4 << 76) | (0x2 << 62)
        h = f"{bits:032X}"
        out.append(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")
    return out


def _text(col: Column, rng: random.Random, rows: range, sizes: Mapping[str, int]) -> list[object]:
    draw = rng.random
    if col.pool in {"sentence", "paragraph"}:
        choices, lo, span = rng.choices, int(col.lo or 1), int(col.hi or 1) - int(col.lo or 1) + 1
        return [" ".join(choices(WORDS, k=lo + int(draw() * span))) for _ in rows]
    if col.pool == "email":
        return [_email(draw) for _ in rows]
    pool = {"first": FIRST, "last": LAST, "city": CITIES}.get(col.pool, WORDS)
    n = len(pool)
    return [pool[int(draw() * n)] for _ in rows]


_ASCII_WORDS = [w for w in WORDS if w.isascii() and w.isalpha()]
_DOMAINS = ["example.com", "example.org", "adventure-works.com", "contoso.co.jp"]


def _email(draw: Callable[[], float]) -> str:
    word = _ASCII_WORDS[int(draw() * len(_ASCII_WORDS))]
    return f"{word}.{int(draw() * 100_000)}@{_DOMAINS[int(draw() * len(_DOMAINS))]}"


def _choice(col: Column, rng: random.Random, rows: range, sizes: Mapping[str, int]) -> list[object]:
    draw, pool = rng.random, col.choices
    n = len(pool)
    return [pool[int(draw() * n)] for _ in rows]


def _code(col: Column, rng: random.Random, rows: range, sizes: Mapping[str, int]) -> list[object]:
    return [col.fmt.format(i + 1) for i in rows]


def _rcode(col: Column, rng: random.Random, rows: range, sizes: Mapping[str, int]) -> list[object]:
    draw, fmt, n = rng.random, col.fmt, int(col.hi) + 1
    return [fmt.format(int(draw() * n)) for _ in rows]


def _bytes(col: Column, rng: random.Random, rows: range, sizes: Mapping[str, int]) -> list[object]:
    draw, lo, span = rng.random, int(col.lo), int(col.hi) - int(col.lo) + 1
    return [rng.randbytes(lo + int(draw() * span)) for _ in rows]


_GENERATORS: dict[str, Generator] = {
    "serial": _serial, "group": _group, "cycle": _cycle, "ref": _ref, "int": _int, "bit": _bit,
    "decimal": _decimal, "float": _float, "real": _real, "datetime3": _datetime3, "datetime7": _datetime7,
    "date": _date, "datestep": _datestep, "time": _time, "guid": _guid, "text": _text, "choice": _choice,
    "code": _code, "rcode": _rcode, "bytes": _bytes,
}  # fmt: skip

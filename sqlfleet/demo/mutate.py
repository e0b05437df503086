"""A realistic batch of changes to a demo database, for the delta demo and the delta benchmark.

Per mutated table, about ``fraction`` of its rows are updated, half as many inserted (copies of
existing rows under new keys) and a quarter as many deleted. On top, the cases a delta must get
right: several updates of one row, a row inserted and deleted in the same batch, an update of a
key column (captured as a delete and an insert), and the same on ``Price History``, whose key is
composite. New values follow each column's declared type. Everything comes from a
``random.Random`` seeded by the seed, the table and its current size, so a batch is
reproducible, and a second batch on the same database differs from the first.
"""

from __future__ import annotations

import contextlib
import random
import sqlite3
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from sqlfleet.demo.schema import BIG_TABLE, TABLES, WORDS, Column, Table
from sqlfleet.sql.identifiers import quote_identifier as q

#: Tables the demo batch changes; every other table stays as it is (its files must stay untouched).
MUTATED_TABLES: tuple[str, ...] = ("Customer", "Price History", BIG_TABLE, "sales_order_header", "Product")
COMPOSITE_TABLE = "Price History"
_UPDATABLE = {"int", "decimal", "float", "real", "bit", "choice", "text", "datetime3", "datetime7", "date"}


class TableChanges(BaseModel):
    """Rows of one table touched by the batch (each statement counts once)."""

    model_config = ConfigDict(frozen=True)

    table: str
    inserted: int
    updated: int
    deleted: int

    @property
    def total(self) -> int:
        """Row changes in this table."""
        return self.inserted + self.updated + self.deleted


class MutationSummary(BaseModel):
    """The batch applied to one database."""

    model_config = ConfigDict(frozen=True)

    path: Path
    tables: tuple[TableChanges, ...]

    @property
    def total(self) -> int:
        """Row changes over all tables."""
        return sum(t.total for t in self.tables)


def _new_value(col: Column, rng: random.Random) -> object:
    """A fresh value for ``col`` that fits its declared type, as the generator would write it."""
    lo, hi = col.lo, col.hi
    if col.kind == "int":
        return rng.randint(int(lo), int(hi))
    if col.kind == "decimal":
        unit = 10**col.scale
        units = rng.randint(round(lo * unit), round(hi * unit))
        whole, frac = divmod(abs(units), unit)
        return f"{'-' if units < 0 else ''}{whole}" + (f".{frac:0{col.scale}d}" if col.scale else "")
    if col.kind == "float":
        return lo + rng.random() * (hi - lo)
    if col.kind == "real":
        return rng.randint(round(lo * 64), round(hi * 64)) / 64
    if col.kind == "bit":
        return rng.randint(0, 1)
    if col.kind == "choice":
        return rng.choice(col.choices)
    if col.kind == "text":
        return " ".join(rng.choices(WORDS, k=rng.randint(1, 4)))
    day = date(2015, 1, 1) + timedelta(days=rng.randint(0, 3652))
    if col.kind == "date":
        return day.isoformat()
    seconds = rng.randint(0, 86399)
    clock = f"{day.isoformat()} {seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
    return (
        f"{clock}.{rng.randint(0, 999):03d}" if col.kind == "datetime3" else f"{clock}.{rng.randint(0, 10**7 - 1):07d}"
    )


def _updatable(table: Table) -> list[Column]:
    return [c for c in table.columns if c.kind in _UPDATABLE and c.name not in table.primary_key]


class _Batch:
    """Statements against one table, counted as they go."""

    def __init__(self, con: sqlite3.Connection, table: Table, rng: random.Random) -> None:
        self.con, self.table, self.rng = con, table, rng
        self.name = q(table.name)
        self.inserted = self.updated = self.deleted = 0
        self.columns = [c.name for c in table.columns]
        self.key = table.primary_key
        self.where = " AND ".join(f"{q(k)} = ?" for k in self.key)

    def keys(self) -> list[tuple[object, ...]]:
        keys = ", ".join(q(k) for k in self.key)
        return [tuple(r) for r in self.con.execute(f"SELECT {keys} FROM {self.name} ORDER BY {keys}")]

    def update(self, key: Sequence[object], col: Column | None = None) -> None:
        col = col or self.rng.choice(_updatable(self.table))
        sql = f"UPDATE {self.name} SET {q(col.name)} = ? WHERE {self.where}"
        self.updated += self.con.execute(sql, (_new_value(col, self.rng), *key)).rowcount

    def delete(self, key: Sequence[object]) -> None:
        self.deleted += self.con.execute(f"DELETE FROM {self.name} WHERE {self.where}", tuple(key)).rowcount

    def copy(self, source: Sequence[object], new_key: Sequence[object]) -> None:
        """Insert a copy of row ``source`` under ``new_key``."""
        replaced = dict(zip(self.key, new_key, strict=True))
        select = ", ".join("?" if c in replaced else q(c) for c in self.columns)
        params = [replaced[c] for c in self.columns if c in replaced]
        sql = f"INSERT INTO {self.name} ({', '.join(q(c) for c in self.columns)}) SELECT {select} FROM {self.name} "
        self.inserted += self.con.execute(f"{sql}WHERE {self.where}", (*params, *source)).rowcount

    def rekey(self, key: Sequence[object], new_key: Sequence[object]) -> None:
        """Change the key columns of one row (an update the capture records as delete + insert)."""
        sets = ", ".join(f"{q(k)} = ?" for k in self.key)
        self.updated += self.con.execute(f"UPDATE {self.name} SET {sets} WHERE {self.where}", (*new_key, *key)).rowcount

    def summary(self) -> TableChanges:
        return TableChanges(table=self.table.name, inserted=self.inserted, updated=self.updated, deleted=self.deleted)


def _mutate_table(batch: _Batch, fraction: float, new_key: Callable[[int], tuple[object, ...]]) -> None:
    keys = batch.keys()
    if not keys:
        return
    rng = batch.rng
    n = max(1, round(len(keys) * fraction))
    for key in rng.sample(keys, min(n, len(keys))):
        batch.update(key)
    fresh = [new_key(i) for i in range(max(1, n // 2) + 3)]
    for key in fresh[:-3]:
        batch.copy(rng.choice(keys), key)
    several, born_and_gone, moved = fresh[-3:]
    batch.copy(rng.choice(keys), several)
    for _ in range(3):  # several updates of one row in one batch: the last one must win
        batch.update(several)
    batch.copy(rng.choice(keys), born_and_gone)
    batch.delete(born_and_gone)  # inserted and deleted in the same batch: must not appear
    batch.rekey(rng.choice(keys), moved)  # an update of a key column
    survivors = batch.keys()
    for key in rng.sample(survivors, min(max(1, n // 4), len(survivors))):
        batch.delete(key)


def mutate_database(
    path: Path, seed: int = 7, fraction: float = 0.01, tables: Sequence[str] = MUTATED_TABLES
) -> MutationSummary:
    """Apply one batch of changes to the demo database at ``path`` in one transaction."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    by_name = {t.name: t for t in TABLES}
    unknown = [t for t in tables if t not in by_name]
    if unknown:
        raise ValueError(f"not demo tables: {unknown}")
    changes: list[TableChanges] = []
    with contextlib.closing(sqlite3.connect(path, isolation_level=None, timeout=30)) as con:
        con.execute("BEGIN IMMEDIATE")
        try:
            for name in tables:
                table = by_name[name]
                size, top = con.execute(f"SELECT count(*), max({q(table.primary_key[0])}) FROM {q(name)}").fetchone()
                rng = random.Random(f"{seed}/{path.stem}/{name}/{size}/{top}")
                batch = _Batch(con, table, rng)
                top = int(top or 0)
                if table.name == COMPOSITE_TABLE:
                    # New products' first price: (product_id, effective_date) keys never used before.
                    def new_key(i: int, top: int = top) -> tuple[object, ...]:
                        return (top + 1 + i, (date(2015, 1, 1) + timedelta(days=i)).isoformat())
                else:

                    def new_key(i: int, top: int = top) -> tuple[object, ...]:
                        return (top + 1 + i,)

                _mutate_table(batch, fraction, new_key)
                changes.append(batch.summary())
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return MutationSummary(path=path, tables=tuple(changes))


__all__ = ["MUTATED_TABLES", "MutationSummary", "TableChanges", "mutate_database"]

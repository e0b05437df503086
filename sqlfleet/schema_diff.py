"""How a table's columns in the warehouse differ from the columns of the files being loaded (pure).

Names compare case-insensitively, as Snowflake's ``MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE``
and DuckDB's identifiers do. A column the files gained is added to the table and reported; a
column whose type changed is reported and NOT applied: the load of that table fails with a
message naming the column and both types, because loading into the old type could round or
truncate values silently. A column the files lost stays in the table and receives NULLs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pydantic import BaseModel, ConfigDict

from sqlfleet.errors import WarehouseError

Column = tuple[str, str]


class TypeChange(BaseModel):
    """A column whose type in the files differs from its type in the table."""

    model_config = ConfigDict(frozen=True)

    name: str
    table_type: str
    file_type: str


class SchemaDiff(BaseModel):
    """Columns added by the files, columns whose type changed, and table columns the files lack."""

    model_config = ConfigDict(frozen=True)

    added: tuple[Column, ...] = ()
    changed: tuple[TypeChange, ...] = ()
    absent: tuple[str, ...] = ()

    def notes(self, target: str) -> tuple[str, ...]:
        """What to report about a load that went ahead (added and absent columns)."""
        notes = [f"{target}: added column {name!r} {sql_type} (new in the source)" for name, sql_type in self.added]
        notes += [f"{target}: column {name!r} is not in the files; loaded as NULL" for name in self.absent]
        return tuple(notes)

    def raise_on_type_change(self, target: str) -> None:
        """Raise ``WarehouseError`` naming every column whose type changed (nothing was applied)."""
        if not self.changed:
            return
        changes = "; ".join(
            f"{c.name!r} is {c.table_type} in the table but {c.file_type} in the files" for c in self.changed
        )
        raise WarehouseError(
            f"{target}: source column type changed, not applied: {changes}. Alter the column "
            "(or drop the table to recreate it from the files) and load again"
        )


def duplicate_names(columns: Sequence[Column]) -> list[str]:
    """Column names that collide when compared case-insensitively."""
    seen: dict[str, str] = {}
    duplicates = []
    for name, _ in columns:
        if name.lower() in seen:
            duplicates.append(name)
        seen.setdefault(name.lower(), name)
    return duplicates


def diff_columns(table: Sequence[Column], files: Sequence[Column], same_type: Callable[[str, str], bool]) -> SchemaDiff:
    """Compare a table's ``(name, type)`` columns with the files' (both in one dialect's types)."""
    existing = {name.lower(): (name, sql_type) for name, sql_type in table}
    incoming = {name.lower() for name, _ in files}
    added: list[Column] = []
    changed: list[TypeChange] = []
    for name, file_type in files:
        found = existing.get(name.lower())
        if found is None:
            added.append((name, file_type))
        elif not same_type(found[1], file_type):
            changed.append(TypeChange(name=found[0], table_type=found[1], file_type=file_type))
    absent = tuple(name for name, _ in table if name.lower() not in incoming)
    return SchemaDiff(added=tuple(added), changed=tuple(changed), absent=absent)


class ChangeColumns(BaseModel):
    """The columns of a window of CDC files, sorted by role (names as the files spell them).

    ``target`` are the columns a keyed target holds (the timestamp and the data, in file order);
    ``all`` are every CDC column, what an append-only change table holds.
    """

    model_config = ConfigDict(frozen=True)

    op: str
    timestamp: str
    change_seq: str
    keys: tuple[str, ...]
    target: tuple[Column, ...]
    all: tuple[Column, ...]


def change_columns(
    columns: Sequence[Column], *, timestamp_column: str, change_seq_column: str, key_columns: Sequence[str], what: str
) -> ChangeColumns:
    """Find the CDC contract's columns among the files' columns; ``WarehouseError`` names what is missing.

    The change sequence (DMS ``$AR_H_CHANGE_SEQ``) orders the changes of one key, so files
    without it cannot be merged deterministically and are refused rather than guessed at.
    """
    from sqlfleet.sourcetypes import OP_COLUMN

    by_lower = {name.lower(): name for name, _ in columns}
    duplicates = duplicate_names(columns)
    if duplicates:
        raise WarehouseError(f"{what}: column names collide ignoring case: {duplicates}")
    wanted = {"Op": OP_COLUMN, "timestamp": timestamp_column, "change sequence": change_seq_column}
    missing = [f"{role} column {name!r}" for role, name in wanted.items() if name.lower() not in by_lower]
    missing += [f"key column {k!r}" for k in key_columns if k.lower() not in by_lower]
    if missing:
        raise WarehouseError(f"{what}: the CDC files lack the {', '.join(missing)}")
    op = by_lower[OP_COLUMN.lower()]
    seq = by_lower[change_seq_column.lower()]
    target = tuple((n, t) for n, t in columns if n not in {op, seq})
    keys = tuple(by_lower[k.lower()] for k in key_columns)
    if {k.lower() for k in keys} & {op.lower(), seq.lower(), timestamp_column.lower()}:
        raise WarehouseError(f"{what}: a DMS metadata column cannot be a key: {list(key_columns)}")
    return ChangeColumns(
        op=op,
        timestamp=by_lower[timestamp_column.lower()],
        change_seq=seq,
        keys=keys,
        target=target,
        all=tuple(columns),
    )

"""The lake's object keys, exactly as AWS DMS lays them out on an S3 target.

Every key in the lake is built and parsed here, relative to the lake root
(``BucketFolder`` on DMS). The shapes, from the DMS user guide (reference/dms.md §1.3):

- full load: ``<database>/<schema>/<table>/LOAD00000001.parquet`` with an 8-digit upper-case
  hexadecimal counter (``...09``, ``...0A``, ...);
- parallel load by partition or named segment: ``<table>/<part>/LOAD00000001.parquet``;
- parallel load by unnamed ranges: ``<table>/SEGMENT1_LOAD00000001.parquet``;
- change data capture: ``<table>/<timestamp>.parquet`` (``20141029-1134010000.parquet``),
  optionally below date-partition folders. The stamp is opaque but sorts in time order.

A table folder exists only for a non-empty table; consumers list a table prefix recursively.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict

FileKind = Literal["load", "cdc"]

PARQUET_SUFFIX = ".parquet"
MAX_LOAD_COUNTER = 0xFFFFFFFF

_LOAD_NAME = re.compile(r"^(?:SEGMENT(?P<segno>[1-9][0-9]*)_)?LOAD(?P<counter>[0-9A-F]{8})\.parquet$")
_CDC_NAME = re.compile(r"^(?P<stamp>[0-9]{8}-[0-9]{6,})\.parquet$")
_DATE_PART = re.compile(r"^[0-9]{1,8}$")


class LakeKey(BaseModel):
    """A parsed lake object key."""

    model_config = ConfigDict(frozen=True)

    database: str
    schema_name: str
    table: str
    kind: FileKind
    filename: str
    counter: int | None = None
    segment: str | None = None
    cdc_stamp: str | None = None


def check_name_part(name: str, what: str = "name") -> str:
    """Return ``name`` if it can be one segment of an object key, else raise ``ValueError``.

    DMS writes schema and table names verbatim into the key, so a ``/`` would split one name
    into two folders and ``.``/``..`` would be unusable as folders on a local lake.
    """
    if not name or name in {".", ".."} or "/" in name or "\x00" in name:
        raise ValueError(f"{what} {name!r} cannot be used in a lake key (empty, '.', '..', or contains '/')")
    return name


def database_prefix(database: str) -> str:
    """Prefix (ending in ``/``) under which one database's objects live."""
    return f"{check_name_part(database, 'database')}/"


def table_prefix(database: str, schema: str, table: str) -> str:
    """Prefix (ending in ``/``) under which one table's objects live, recursively."""
    return f"{database_prefix(database)}{check_name_part(schema, 'schema')}/{check_name_part(table, 'table')}/"


def load_file_name(counter: int, segment_number: int | None = None) -> str:
    """``LOAD0000000A.parquet`` for counter 10; ``SEGMENT2_LOAD00000001.parquet`` with a segment."""
    if not 1 <= counter <= MAX_LOAD_COUNTER:
        raise ValueError(f"LOAD counter out of range: {counter}")
    name = f"LOAD{counter:08X}{PARQUET_SUFFIX}"
    if segment_number is not None:
        if segment_number < 1:
            raise ValueError(f"segment number out of range: {segment_number}")
        name = f"SEGMENT{segment_number}_{name}"
    return name


def load_file_key(
    database: str,
    schema: str,
    table: str,
    counter: int,
    *,
    part: str | None = None,
    segment_number: int | None = None,
) -> str:
    """Key of a full-load file; ``part`` is a partition/segment folder name, if any."""
    prefix = table_prefix(database, schema, table)
    if part is not None:
        prefix += f"{check_name_part(part, 'partition')}/"
    return prefix + load_file_name(counter, segment_number)


def cdc_file_key(database: str, schema: str, table: str, stamp: str) -> str:
    """Key of a CDC file named by its (opaque, time-sortable) stamp."""
    if not _CDC_NAME.match(f"{stamp}{PARQUET_SUFFIX}"):
        raise ValueError(f"not a DMS CDC file stamp: {stamp!r}")
    return f"{table_prefix(database, schema, table)}{stamp}{PARQUET_SUFFIX}"


def parse_key(key: str) -> LakeKey | None:
    """Parse a key relative to the lake root; ``None`` when it is not a DMS data file."""
    parts = key.split("/")
    if len(parts) < 4 or any(p == "" for p in parts):
        return None
    database, schema, table, *rest = parts
    filename = rest[-1]
    folders = rest[:-1]
    load = _LOAD_NAME.match(filename)
    if load is not None and len(folders) <= 1:
        if folders and load.group("segno"):
            return None
        segno = load.group("segno")
        return LakeKey(
            database=database,
            schema_name=schema,
            table=table,
            kind="load",
            filename=filename,
            counter=int(load.group("counter"), 16),
            segment=folders[0] if folders else (f"SEGMENT{segno}" if segno else None),
        )
    cdc = _CDC_NAME.match(filename)
    if cdc is not None and all(_DATE_PART.match(f) for f in folders):
        return LakeKey(
            database=database,
            schema_name=schema,
            table=table,
            kind="cdc",
            filename=filename,
            cdc_stamp=cdc.group("stamp"),
        )
    return None

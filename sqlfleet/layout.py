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
from datetime import datetime
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


def bucket_folder(root: str, database: str | None = None) -> str:
    """The S3 target endpoint's ``BucketFolder``: the lake root, plus ``/<database>`` for a
    per-database endpoint; ``""`` means no folder (keys start at the bucket's root).

    DMS writes ``BucketFolder/<schema>/<table>/...``, so with a per-database folder the keys are
    exactly ``<root>/<database>/<schema>/<table>/...`` as built above.
    """
    parts = [p for p in root.strip("/").split("/") if p]
    for part in parts:
        check_name_part(part, "lake root folder")
    if database is not None:
        parts.append(check_name_part(database, "database"))
    return "/".join(parts)


def shared_schema_prefix(database: str) -> str:
    """The prefix a shared target endpoint's task adds to every schema (``<database>/``).

    With one S3 endpoint per replication instance (``BucketFolder=<root>``), a schema
    transformation renames ``dbo`` to ``<database>/dbo``, so DMS writes
    ``<root>/<database>/dbo/<table>/...``: the same keys as a per-database endpoint, parsed by
    ``parse_key`` unchanged. That DMS keeps the ``/`` of a renamed schema as a folder separator is
    not verified offline (DESIGN.md); ``split_shared_schema`` maps the renamed schema back.
    """
    return database_prefix(database)


def split_shared_schema(renamed: str) -> tuple[str, str]:
    """``("sales_eu", "dbo")`` for ``"sales_eu/dbo"``; ``ValueError`` if it is not a renamed schema."""
    database, slash, schema = renamed.partition("/")
    if not slash:
        raise ValueError(f"{renamed!r} is not a schema renamed for a shared endpoint (<database>/<schema>)")
    return check_name_part(database, "database"), check_name_part(schema, "schema")


#: Objects sqlfleet keeps for itself, outside every database prefix (database names start with a letter).
SQLFLEET_PREFIX = "_sqlfleet/"
_CHECKPOINT_MODES = ("full-load", "cdc", "full-load-and-cdc")


def cdc_stamp(when: datetime, sequence: int = 0) -> str:
    """A CDC file stamp: ``20141029-113401123456`` (date, time, microseconds) + a 4-digit sequence.

    DMS names CDC files by the time it writes them; the sequence keeps two files written by one
    task in the same microsecond apart. Stamps of one width sort in time order.
    """
    if not 0 <= sequence <= 9999:
        raise ValueError(f"CDC file sequence out of range: {sequence}")
    return f"{when:%Y%m%d-%H%M%S%f}{sequence:04d}"


def cdc_stamp_in_window(stamp: str, start: datetime, stop: datetime) -> bool:
    """Whether a CDC file stamp falls between ``start`` and ``stop`` (inclusive).

    Stamps are compared digit by digit at the precision both sides have, so a DMS stamp with
    fewer fractional digits (``1134010000``) is placed correctly too.
    """
    digits = stamp.replace("-", "")
    low, high = cdc_stamp(start).replace("-", ""), cdc_stamp(stop, 9999).replace("-", "")
    width = min(len(digits), len(low))
    return low[:width] <= digits[:width] <= high[:width]


def checkpoint_key(database: str, mode: str) -> str:
    """``_sqlfleet/checkpoints/<database>/<mode>.json``: a database's CDC checkpoint for one mode."""
    if mode not in _CHECKPOINT_MODES:
        raise ValueError(f"not a migration type: {mode!r}")
    return f"{SQLFLEET_PREFIX}checkpoints/{check_name_part(database, 'database')}/{mode}.json"


#: Stages of one database in one fleet run, each kept as its own object (``sqlfleet.resume``).
RUN_STAGES = ("started", "replicated", "finished")
_RUN_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def check_run_key(run_key: str) -> str:
    """Return ``run_key`` if it can name a fleet run in the lake, else raise ``ValueError``."""
    if not _RUN_KEY.match(run_key) or ".." in run_key:
        raise ValueError(
            f"run key {run_key!r} must be 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return run_key


def history_key(database: str, mode: str) -> str:
    """``_sqlfleet/history/<database>/<mode>.json``: what earlier runs of a database cost."""
    if mode not in _CHECKPOINT_MODES:
        raise ValueError(f"not a migration type: {mode!r}")
    return f"{SQLFLEET_PREFIX}history/{check_name_part(database, 'database')}/{mode}.json"


def history_prefix() -> str:
    """Prefix of every history object (one LIST reads the fleet's history)."""
    return f"{SQLFLEET_PREFIX}history/"


def run_prefix(run_key: str) -> str:
    """``_sqlfleet/runs/<run_key>/``: what one fleet run did, database by database."""
    return f"{SQLFLEET_PREFIX}runs/{check_run_key(run_key)}/"


def run_record_key(run_key: str, database: str, stage: str) -> str:
    """``_sqlfleet/runs/<run_key>/<database>/<stage>.json`` (``started``, ``replicated``, ``finished``)."""
    if stage not in RUN_STAGES:
        raise ValueError(f"not a run stage: {stage!r}")
    return f"{run_prefix(run_key)}{check_name_part(database, 'database')}/{stage}.json"


def parse_run_record_key(key: str) -> tuple[str, str, str] | None:
    """(run key, database, stage) of a run record key; ``None`` for any other key."""
    parts = key.split("/")
    if len(parts) != 5 or f"{parts[0]}/" != SQLFLEET_PREFIX or parts[1] != "runs":
        return None
    stage = parts[4].removesuffix(".json")
    if stage not in RUN_STAGES or not parts[4].endswith(".json"):
        return None
    return parts[2], parts[3], stage


def engine_task_key(identifier: str) -> str:
    """``_sqlfleet/engine/local/<task identifier>.json``: the embedded engine's state of one task."""
    return f"{SQLFLEET_PREFIX}engine/local/{check_name_part(identifier, 'task identifier')}.json"

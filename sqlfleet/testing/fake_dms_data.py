"""The fake DMS's data plane (a test double): which source tables a task selects, and writing them.

**Source convention.** A SQL Server source endpoint is resolved to a SQLite file through the
fake's source registry (``FakeDms.register_source(server, database, path)``), keyed by the
endpoint's ``ServerName`` (or ``MicrosoftSQLServerSettings.ServerName``) and ``DatabaseName``,
case-insensitively. The engine therefore builds exactly the endpoint it would build for a real
SQL Server (from an ``mssql://host:port/Database`` catalog source); no test-only attribute ever
reaches production code. SQLite has no schemas: its tables are reported in the registered
``default_schema`` (``dbo``).

**Target.** Files are written into ``s3://<BucketName>/<BucketFolder>/<schema>/<table>/`` by the
embedded engine's own writer (``LocalEngine.write_full_load``), so the layout, the ``Op`` and
timestamp columns and the types are exactly what verify and load already read. A schema
transformation (``rename``, ``add-prefix``, ...) changes the ``<schema>`` folder: the
shared-endpoint strategy's ``add-prefix`` of ``<database>/`` lands in ``<folder>/<database>/<schema>/``.

**CDC** goes through the embedded engine's change capture (``local_cdc``): a run's window of a
registered source's captured changes is written as timestamp-named CDC files, with the
``$AR_H_CHANGE_SEQ`` column the task's ``add-column`` rule names.

**Not modelled:** ``add-column`` in full-load files (DMS leaves ``$AR_H_CHANGE_SEQ`` empty during a
full load), ``table-settings`` parallel load (one ``LOAD`` sequence per table) and
``TargetTablePrepMode=DO_NOTHING`` (a table's old files are always replaced).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import pyarrow.fs as pafs

from sqlfleet.engines.base import TableStatistics, TaskSpec
from sqlfleet.engines.local import LocalEngine
from sqlfleet.engines.local_cdc import ChangeWindow, write_cdc_window
from sqlfleet.engines.sqlite_source import SourceTable, list_source_tables
from sqlfleet.lake import Lake


@dataclass(frozen=True)
class SqliteSource:
    """A registered source database: the SQLite file standing in for one SQL Server database."""

    path: Path
    default_schema: str = "dbo"


@dataclass(frozen=True)
class Selection:
    """One selection rule: include or exclude ``schema.table`` patterns of a table type."""

    action: str
    schema: str
    table: str
    table_type: str


@dataclass(frozen=True)
class TableMappings:
    """The parts of a ``TableMappings`` document the fake acts on."""

    selections: tuple[Selection, ...]
    #: ``(rule-action, schema pattern, value)`` of schema transformations, in rule order.
    schema_transforms: tuple[tuple[str, str, str], ...]
    #: The column an ``add-column`` rule fills with ``$AR_H_CHANGE_SEQ``, if any.
    change_seq_column: str | None = None


@dataclass(frozen=True)
class S3Target:
    """Where a task run writes: the target endpoint's settings, captured when the run starts."""

    bucket: str
    folder: str
    timestamp_column: str
    max_file_size_kb: int


_SCHEMA_ACTIONS = {
    "rename": lambda schema, value: value,
    "add-prefix": lambda schema, value: value + schema,
    "add-suffix": lambda schema, value: schema + value,
    "convert-lowercase": lambda schema, value: schema.lower(),
    "convert-uppercase": lambda schema, value: schema.upper(),
}


@lru_cache(maxsize=1024)
def _dms_pattern(pattern: str) -> re.Pattern[str]:
    """DMS selection wildcards: ``%`` any run, ``_`` any one character, ``[..]`` a class (``[_]``)."""
    out = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        close = pattern.find("]", i + 2) if c == "[" else -1
        if c == "%":
            out.append(".*")
        elif c == "_":
            out.append(".")
        elif close != -1:
            body = pattern[i + 1 : close]
            out.append("[" + "".join("\\" + ch if ch in "\\^[" else ch for ch in body) + "]")
            i = close
        else:
            out.append(re.escape(c))
        i += 1
    # SQL Server's default collation is case-insensitive, and DMS matches through it.
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL)


def dms_like(pattern: str, name: str) -> bool:
    """Whether ``name`` matches a DMS selection pattern as a whole."""
    return _dms_pattern(pattern).fullmatch(name) is not None


def parse_table_mappings(text: str) -> TableMappings:
    """Parse and check a ``TableMappings`` document; ``ValueError`` with a DMS-like message."""
    try:
        doc: Any = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"Invalid table mappings document: {exc}") from None
    rules = doc.get("rules") if isinstance(doc, dict) else None
    if not isinstance(rules, list) or not rules:
        raise ValueError("Invalid table mappings document: 'rules' must be a non-empty list")
    selections: list[Selection] = []
    transforms: list[tuple[str, str, str]] = []
    change_seq: str | None = None
    ids: set[str] = set()
    for rule in rules:
        if not isinstance(rule, dict) or "rule-type" not in rule or "rule-id" not in rule:
            raise ValueError(f"Invalid table mappings rule: {rule!r}")
        if str(rule["rule-id"]) in ids:
            raise ValueError(f"Duplicate rule-id {rule['rule-id']}")
        ids.add(str(rule["rule-id"]))
        locator = rule.get("object-locator") or {}
        kind = rule["rule-type"]
        if kind == "selection":
            action = rule.get("rule-action")
            if action not in {"include", "exclude", "explicit"}:
                raise ValueError(f"Invalid rule-action {action!r} in rule {rule['rule-id']}")
            table_type = locator.get("table-type", "table")
            if table_type not in {"table", "view", "all"}:
                raise ValueError(f"Invalid table-type {table_type!r} in rule {rule['rule-id']}")
            selections.append(
                Selection(action, locator.get("schema-name", ""), locator.get("table-name", ""), table_type)
            )
        elif kind == "transformation" and rule.get("rule-target") == "schema":
            action = str(rule.get("rule-action"))
            if action not in _SCHEMA_ACTIONS:
                raise ValueError(f"The fake does not model schema rule-action {action!r} (rule {rule['rule-id']})")
            transforms.append((action, locator.get("schema-name", ""), str(rule.get("value", ""))))
        elif kind == "transformation" and rule.get("rule-action") == "add-column":
            if rule.get("expression") == "$AR_H_CHANGE_SEQ":
                change_seq = str(rule.get("value"))
        elif kind == "table-settings" and "%" in locator.get("schema-name", "") + locator.get("table-name", ""):
            raise ValueError("Exact schema and table name required when using table settings rule.")
    if not any(s.action in {"include", "explicit"} for s in selections):
        raise ValueError("Table mappings select nothing: at least one include selection rule is required")
    return TableMappings(tuple(selections), tuple(transforms), change_seq)


def _type_matches(table_type: str, table: SourceTable, migration_type: str) -> bool:
    if table.is_view:
        # DMS loads views only in a full-load task.
        return table_type in {"view", "all"} and migration_type == "full-load"
    return table_type in {"table", "all"}


def select_tables(mappings: TableMappings, tables: list[SourceTable], migration_type: str) -> list[SourceTable]:
    """The tables a task's selection rules pick: included by some rule and excluded by none."""

    def hits(action: set[str], table: SourceTable) -> bool:
        return any(
            s.action in action
            and dms_like(s.schema, table.schema_name)
            and dms_like(s.table, table.name)
            and (s.action == "exclude" or _type_matches(s.table_type, table, migration_type))
            for s in mappings.selections
        )

    return [t for t in tables if hits({"include", "explicit"}, t) and not hits({"exclude"}, t)]


def target_schema(mappings: TableMappings, schema: str) -> str:
    """The schema folder a table lands in, after the first schema transformation that applies
    (DMS allows one action per object)."""
    for action, pattern, value in mappings.schema_transforms:
        if dms_like(pattern, schema):
            return _SCHEMA_ACTIONS[action](schema, value)
    return schema


def source_tables(source: SqliteSource) -> list[SourceTable]:
    """Every table and view of a registered source."""
    return list_source_tables(source.path, source.default_schema)


class LakeWriter:
    """Writes one table's files into an S3 bucket folder with the embedded engine's writers."""

    def __init__(
        self, endpoint_url: str, *, region: str, access_key: str, secret_key: str, batch_rows: int = 1000
    ) -> None:
        # Small batches: a file is closed past MaxFileSize at a batch boundary, and DMS's own
        # files end close to the limit.
        self.batch_rows = batch_rows
        self._options = {
            "endpoint_url": endpoint_url,
            "region": region,
            "access_key": access_key,
            "secret_key": secret_key,
        }

    def bucket_exists(self, bucket: str) -> bool:
        """Whether ``bucket`` exists on the S3 server (a target endpoint's connection test)."""
        if not bucket:
            return False
        lake = Lake.from_url(f"s3://{bucket}", **self._options)
        return bool(lake.fs.get_file_info(bucket).type == pafs.FileType.Directory)

    def _place(self, target: S3Target, schema: str, source: SqliteSource, change_seq: str) -> tuple[Lake, TaskSpec]:
        """A lake rooted so that ``<database>/<schema>/<table>/`` lands on ``<folder>/<schema>/<table>/``."""
        full = "/".join(part for part in (target.folder.strip("/"), schema.strip("/")) if part)
        parts = full.split("/")
        if len(parts) < 2:
            raise ValueError(f"the fake needs a BucketFolder to write schema {schema!r} (got {target.folder!r})")
        lake = Lake.from_url(f"s3://{'/'.join([target.bucket, *parts[:-2]])}", **self._options)
        spec = TaskSpec(
            database=parts[-2],
            source_url=f"sqlite:///{source.path}",
            timestamp_column=target.timestamp_column,
            max_file_size_kb=target.max_file_size_kb,
            change_seq_column=change_seq,
        )
        return lake, spec

    def write_full_load(
        self, target: S3Target, schema: str, source: SqliteSource, table: SourceTable, now: datetime
    ) -> int:
        """Write ``table`` as ``LOAD`` files under ``<folder>/<schema>/<table>/``; returns its row count."""
        lake, spec = self._place(target, schema, source, "_dms_change_seq")
        engine = LocalEngine(lake, workers=1, batch_rows=self.batch_rows, clock=lambda: now)
        renamed = table.model_copy(update={"schema_name": spec_schema(target, schema)})
        return engine.write_full_load(spec, source.path, renamed)

    def write_changes(
        self,
        target: S3Target,
        schema: str,
        source: SqliteSource,
        table: SourceTable,
        *,
        window: ChangeWindow,
        now: datetime,
        change_seq: str,
    ) -> TableStatistics:
        """Write ``table``'s changes in ``window`` as CDC files; returns its change counts."""
        lake, spec = self._place(target, schema, source, change_seq)
        renamed = table.model_copy(update={"schema_name": spec_schema(target, schema)})
        return write_cdc_window(lake, spec, source.path, renamed, window, clock=lambda: now, batch_rows=self.batch_rows)


def spec_schema(target: S3Target, schema: str) -> str:
    """The last folder of ``<folder>/<schema>``: the schema as the embedded writers name it."""
    return "/".join(part for part in (target.folder.strip("/"), schema.strip("/")) if part).split("/")[-1]

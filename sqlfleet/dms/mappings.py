"""DMS table mappings (the ``TableMappings`` JSON of a replication task) from a catalog entry.

Pure and deterministic: the same entry and mode always give the same string, so a task whose
mappings drifted is recognised by comparing strings (reference/dms.md §2). The rules, in order:

1. ``selection`` ``include`` rules: every schema include pattern × every table include pattern;
2. ``selection`` ``exclude`` rules: schema excludes (any table), then table excludes (any schema);
3. with the shared-endpoint strategy, a schema ``add-prefix`` transformation writing the
   database's output under ``<database>/`` (``layout.shared_schema_prefix``);
4. for CDC modes, an ``add-column`` transformation holding ``$AR_H_CHANGE_SEQ``;
5. ``table-settings`` ``parallel-load`` for the tables the catalog marks big (full-load modes).

Catalog patterns use ``%`` as the only wildcard and ``_`` literally, while DMS reads ``_`` as
"any one character" and ``[...]`` as a character class, so both are escaped (``[_]``, ``[[]``).
"""

from __future__ import annotations

import json
from typing import Literal

from sqlfleet.catalog import DatabaseEntry, Partition, TableOption
from sqlfleet.dms.placement import EndpointStrategy
from sqlfleet.engines.base import MigrationType
from sqlfleet.layout import shared_schema_prefix

TableType = Literal["table", "view", "all"]
Rule = dict[str, object]

CHANGE_SEQ_EXPRESSION = "$AR_H_CHANGE_SEQ"
# $AR_H_CHANGE_SEQ is 35 digits (16 of timestamp, 19 of record id); the UG example declares 50.
_CHANGE_SEQ_TYPE = {"type": "string", "length": 50}
_MODES: tuple[MigrationType, ...] = ("full-load", "cdc", "full-load-and-cdc")
_STRATEGIES: tuple[EndpointStrategy, ...] = ("per-database-endpoint", "shared-endpoint")
# DMS cannot transform column names holding these characters (reference/dms.md §2).
_UNTRANSFORMABLE = set("#\\/-")


def dms_pattern(pattern: str) -> str:
    """A catalog pattern as a DMS selection pattern: ``%`` stays the wildcard; ``_`` and ``[`` are
    written as one-character classes (``[_]``, ``[[]``) so they match only themselves.

    ``[_]`` is documented by the DMS user guide; ``[[]`` follows the same SQL Server LIKE rule
    (DMS selection patterns follow LIKE) and is [unverified] on a real account.
    """
    return "".join("[_]" if ch == "_" else "[[]" if ch == "[" else ch for ch in pattern)


def table_type_for(entry: DatabaseEntry, mode: MigrationType) -> TableType:
    """``all`` (tables and views) for a full load of an entry with views, else ``table``:
    "DMS loads views only in a full-load task" (reference/dms.md §2)."""
    return "all" if mode == "full-load" and entry.views else "table"


def build_table_mappings(
    entry: DatabaseEntry,
    mode: MigrationType,
    *,
    strategy: EndpointStrategy = "per-database-endpoint",
    change_seq_column: str = "_dms_change_seq",
) -> str:
    """The ``TableMappings`` JSON of ``entry``'s task in ``mode`` (keys in a fixed order)."""
    if mode not in _MODES:
        raise ValueError(f"unknown migration type {mode!r}: use one of {', '.join(_MODES)}")
    if strategy not in _STRATEGIES:
        raise ValueError(f"unknown endpoint strategy {strategy!r}: use one of {', '.join(_STRATEGIES)}")
    if not change_seq_column or _UNTRANSFORMABLE & set(change_seq_column):
        raise ValueError(f"change sequence column {change_seq_column!r} must be non-empty without # \\ / -")
    table_type = table_type_for(entry, mode)
    bodies: list[Rule] = []
    for schema in entry.schemas.include:
        for table in entry.tables.include:
            bodies.append(_selection("include", schema, table, table_type))
    bodies.extend(_selection("exclude", schema, "%", table_type) for schema in entry.schemas.exclude)
    bodies.extend(_selection("exclude", "%", table, table_type) for table in entry.tables.exclude)
    if strategy == "shared-endpoint":
        bodies.append(_database_prefix(entry.name))
    if mode != "full-load":
        bodies.append(_change_sequence(change_seq_column))
    if mode != "cdc":  # parallel load splits a full load; a CDC-only task has none
        bodies.extend(_parallel_load(o) for o in entry.table_options if _is_parallel(entry, o))
    rules = [_numbered(i, body) for i, body in enumerate(bodies, start=1)]
    return json.dumps({"rules": rules}, indent=2, ensure_ascii=False)


def _numbered(rule_id: int, body: Rule) -> Rule:
    kind = str(body.pop("_name"))
    # rule-id must be numeric; rule-name must be unique: the id makes it so.
    return {"rule-type": body.pop("rule-type"), "rule-id": str(rule_id), "rule-name": f"{kind}-{rule_id}", **body}


def _selection(action: Literal["include", "exclude"], schema: str, table: str, table_type: TableType) -> Rule:
    return {
        "_name": action,
        "rule-type": "selection",
        "object-locator": {
            "schema-name": dms_pattern(schema),
            "table-name": dms_pattern(table),
            "table-type": table_type,
        },
        "rule-action": action,
    }


def _database_prefix(database: str) -> Rule:
    # add-prefix on every schema rather than one rename per schema: rename needs an exact name,
    # and catalog schemas are patterns ('%'); "one action per object" holds with one rule.
    return {
        "_name": "database-prefix",
        "rule-type": "transformation",
        "rule-target": "schema",
        "object-locator": {"schema-name": "%"},
        "rule-action": "add-prefix",
        "value": shared_schema_prefix(database),
    }


def _change_sequence(column: str) -> Rule:
    # Orders changes to one key deterministically (dedupe on pk ORDER BY change_seq DESC);
    # file names and commit timestamps can tie (reference/dms.md §1.3).
    return {
        "_name": "change-sequence",
        "rule-type": "transformation",
        "rule-target": "column",
        "object-locator": {"schema-name": "%", "table-name": "%"},
        "rule-action": "add-column",
        "value": column,
        "expression": CHANGE_SEQ_EXPRESSION,
        "data-type": dict(_CHANGE_SEQ_TYPE),
    }


def _is_parallel(entry: DatabaseEntry, option: TableOption) -> bool:
    return (option.big or option.partition is not None) and entry.wants_table(option.schema_name, option.table_name)


def _parallel_load(option: TableOption) -> Rule:
    # table-settings take exact names, no wildcards ("Exact schema and table name required"),
    # so the names are written verbatim, unescaped.
    return {
        "_name": "parallel-load",
        "rule-type": "table-settings",
        "object-locator": {"schema-name": option.schema_name, "table-name": option.table_name},
        "parallel-load": _parallel_spec(option.partition),
    }


def _parallel_spec(partition: Partition | None) -> dict[str, object]:
    if partition is None or partition.mode == "auto":
        return {"type": "partitions-auto"}
    # n boundaries (upper bounds) make n + 1 segments; rows whose column is NULL are not
    # replicated by a ranges load, so the catalog's column must be NOT NULL (reference/dms.md §2).
    # Without segment-names S3 files are <table>/SEGMENTn_LOAD...; layout.parse_key reads both.
    return {
        "type": "ranges",
        "columns": [partition.column],
        "boundaries": [[str(b)] for b in partition.boundaries],
    }

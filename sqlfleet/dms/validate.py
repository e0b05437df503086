"""Check a ``TableMappings`` JSON document against the DMS rules (reference/dms.md §2).

moto accepts any mapping string and real DMS only complains when the task is created or
started, so every mapping sqlfleet builds is checked here first (and in the golden tests).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

RULE_TYPES = frozenset({"selection", "transformation", "table-settings"})
SELECTION_ACTIONS = frozenset({"include", "exclude", "explicit"})
TABLE_TYPES = frozenset({"table", "view", "all"})
TRANSFORMATION_TARGETS = frozenset({"schema", "table", "column", "table-tablespace", "index-tablespace"})
TRANSFORMATION_ACTIONS = frozenset(
    {
        "rename",
        "remove-column",
        "convert-lowercase",
        "convert-uppercase",
        "add-prefix",
        "remove-prefix",
        "replace-prefix",
        "add-suffix",
        "remove-suffix",
        "replace-suffix",
        "define-primary-key",
        "change-data-type",
        "add-column",
        "include-column",
        "add-before-image-columns",
    }
)
PARALLEL_LOAD_TYPES = frozenset({"partitions-auto", "subpartitions-auto", "partitions-list", "ranges", "none"})
_VALUE_ACTIONS = frozenset({"rename", "add-prefix", "add-suffix", "add-column", "replace-prefix", "replace-suffix"})
_LOCATOR_KEYS = {
    "selection": frozenset({"schema-name", "table-name", "table-type"}),
    "transformation": frozenset(
        {"schema-name", "table-name", "column-name", "data-type", "index-tablespace-name", "table-tablespace-name"}
    ),
    "table-settings": frozenset({"schema-name", "table-name"}),
}
_MAX_RANGE_COLUMNS = 10
_UNTRANSFORMABLE = re.compile(r"[#\\/-]")


def validate_table_mappings(text: str, *, literal_underscores: bool = True) -> list[str]:
    """Every problem of the mapping document ``text``, as readable strings; ``[]`` when valid.

    With ``literal_underscores`` (sqlfleet's convention), an ``_`` outside ``[...]`` in a selection
    pattern is reported: DMS reads it as "any one character", which catalog names never mean.
    """
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        return [f"not JSON: {exc}"]
    if not isinstance(doc, Mapping) or not isinstance(doc.get("rules"), list) or not doc["rules"]:
        return ['the document must be {"rules": [...]} with at least one rule']
    problems: list[str] = []
    ids: dict[str, int] = {}
    names: dict[str, int] = {}
    transformed: dict[str, int] = {}
    includes = 0
    for n, rule in enumerate(doc["rules"]):
        where = f"rules[{n}]"
        if not isinstance(rule, Mapping):
            problems.append(f"{where}: a rule must be an object")
            continue
        rule_id, name, kind = rule.get("rule-id"), rule.get("rule-name"), rule.get("rule-type")
        if isinstance(rule_id, bool) or not (
            (isinstance(rule_id, int) and rule_id > 0) or (isinstance(rule_id, str) and rule_id.isdigit())
        ):
            problems.append(f"{where}: rule-id must be a positive number (or numeric string), got {rule_id!r}")
        elif str(int(rule_id)) in ids:
            problems.append(f"{where}: rule-id {rule_id} repeats rules[{ids[str(int(rule_id))]}]")
        else:
            ids[str(int(rule_id))] = n
        if not isinstance(name, str) or not name:
            problems.append(f"{where}: rule-name must be a non-empty string")
        elif name in names:
            problems.append(f"{where}: rule-name {name!r} repeats rules[{names[name]}]")
        else:
            names[name] = n
        if kind not in RULE_TYPES:
            problems.append(f"{where}: rule-type must be one of {sorted(RULE_TYPES)}, got {kind!r}")
            continue
        locator = rule.get("object-locator")
        if not isinstance(locator, Mapping) or not isinstance(locator.get("schema-name"), str):
            problems.append(f"{where}: object-locator must be an object with a schema-name")
            continue
        unknown = sorted(set(locator) - _LOCATOR_KEYS[kind])
        if unknown:
            problems.append(f"{where}: unknown object-locator key(s) {unknown}")
        if kind == "selection":
            includes += rule.get("rule-action") == "include"
            problems += [f"{where}: {p}" for p in _selection_problems(rule, locator, literal_underscores)]
        elif kind == "transformation":
            problems += [f"{where}: {p}" for p in _transformation_problems(rule, locator)]
            # several add-column rules may share a locator; any other action is one per object
            if rule.get("rule-action") != "add-column":
                key = json.dumps([rule.get("rule-target"), locator], sort_keys=True)
                if key in transformed:
                    problems.append(
                        f"{where}: transforms the same object as rules[{transformed[key]}] "
                        "(DMS applies one action per object)"
                    )
                transformed.setdefault(key, n)
        else:
            problems += [f"{where}: {p}" for p in _table_settings_problems(rule, locator)]
    if not includes:
        problems.append("no selection rule includes anything")
    return problems


def _pattern_problems(label: str, pattern: object, literal_underscores: bool) -> list[str]:
    if not isinstance(pattern, str) or not pattern:
        return [f"{label} must be a non-empty string"]
    problems = []
    depth_free = re.sub(r"\[[^\]]+\]", "", pattern)
    if "[" in depth_free:
        problems.append(f"{label} {pattern!r} has an unclosed '['")
    if literal_underscores and "_" in depth_free:
        problems.append(f"{label} {pattern!r} has a bare '_' (any one character in DMS); write [_] for a literal")
    return problems


def _selection_problems(rule: Mapping[str, object], locator: Mapping[str, object], literal: bool) -> list[str]:
    action = rule.get("rule-action")
    problems = []
    if action not in SELECTION_ACTIONS:
        problems.append(f"rule-action must be one of {sorted(SELECTION_ACTIONS)}, got {action!r}")
    if "table-type" in locator and locator["table-type"] not in TABLE_TYPES:
        problems.append(f"table-type must be one of {sorted(TABLE_TYPES)}, got {locator['table-type']!r}")
    for key in ("schema-name", "table-name"):
        problems += _pattern_problems(key, locator.get(key), literal)
        if action == "explicit" and isinstance(locator.get(key), str) and "%" in str(locator[key]):
            problems.append(f"an explicit rule names one object: {key} cannot hold '%'")
    if "load-order" in rule and (isinstance(rule["load-order"], bool) or not isinstance(rule["load-order"], int)):
        problems.append("load-order must be an integer")
    return problems


def _transformation_problems(rule: Mapping[str, object], locator: Mapping[str, object]) -> list[str]:
    target, action = rule.get("rule-target"), rule.get("rule-action")
    problems = []
    if target not in TRANSFORMATION_TARGETS:
        problems.append(f"rule-target must be one of {sorted(TRANSFORMATION_TARGETS)}, got {target!r}")
    if action not in TRANSFORMATION_ACTIONS:
        problems.append(f"rule-action must be one of {sorted(TRANSFORMATION_ACTIONS)}, got {action!r}")
    if target in ("table", "column") and not isinstance(locator.get("table-name"), str):
        problems.append(f"a {target} transformation needs object-locator.table-name")
    value = rule.get("value")
    if action in _VALUE_ACTIONS and (not isinstance(value, str) or not value):
        problems.append(f"{action} needs a non-empty value")
    if target == "column" and isinstance(value, str) and _UNTRANSFORMABLE.search(value):
        problems.append(f"column name {value!r} holds # \\ / - which DMS cannot transform")
    if action == "add-column":
        data_type = rule.get("data-type")
        if not isinstance(data_type, Mapping) or not isinstance(data_type.get("type"), str):
            problems.append("add-column needs data-type with a type")
        if target != "column":
            problems.append("add-column needs rule-target column")
    return problems


def _table_settings_problems(rule: Mapping[str, object], locator: Mapping[str, object]) -> list[str]:
    problems = []
    for key in ("schema-name", "table-name"):
        value = locator.get(key)
        if not isinstance(value, str) or not value or "%" in value:
            problems.append(f"table-settings need an exact {key} (no '%'): got {value!r}")
    load = rule.get("parallel-load")
    if load is not None:
        problems += _parallel_load_problems(load)
    lob = rule.get("lob-settings")
    if isinstance(lob, Mapping) and lob.get("mode") == "unlimited":
        problems.append("lob-settings mode 'unlimited' (full LOB) is not supported on an S3 target")
    if load is None and lob is None:
        problems.append("table-settings rule sets neither parallel-load nor lob-settings")
    return problems


def _parallel_load_problems(load: object) -> list[str]:
    if not isinstance(load, Mapping):
        return ["parallel-load must be an object"]
    kind = load.get("type")
    if kind not in PARALLEL_LOAD_TYPES:
        return [f"parallel-load type must be one of {sorted(PARALLEL_LOAD_TYPES)}, got {kind!r}"]
    if kind == "subpartitions-auto":
        return ["parallel-load subpartitions-auto is Oracle only (the source is SQL Server)"]
    if kind == "partitions-list":
        partitions = load.get("partitions")
        ok = isinstance(partitions, list) and partitions and all(isinstance(p, str) and p for p in partitions)
        return [] if ok else ["partitions-list needs a non-empty partitions list of names"]
    if kind != "ranges":
        return []
    problems = []
    columns, boundaries = load.get("columns"), load.get("boundaries")
    if (
        not isinstance(columns, list)
        or not 1 <= len(columns) <= _MAX_RANGE_COLUMNS
        or not all(isinstance(c, str) and c for c in columns)
    ):
        return [f"ranges needs 1..{_MAX_RANGE_COLUMNS} column names"]
    if not isinstance(boundaries, list) or not boundaries:
        return ["ranges needs a non-empty boundaries list"]
    for i, bound in enumerate(boundaries):
        if not isinstance(bound, list) or len(bound) != len(columns) or not all(isinstance(v, str) for v in bound):
            problems.append(f"boundaries[{i}] must be a list of {len(columns)} string value(s), one per column")
    names = load.get("segment-names")
    if names is not None and (
        not isinstance(names, list) or len(names) != len(boundaries) + 1 or len(set(map(str, names))) != len(names)
    ):
        problems.append("segment-names must name each of the len(boundaries) + 1 segments once")
    return problems

"""DMS replication task settings (``ReplicationTaskSettings`` JSON) for an S3 Parquet target.

Only settings that differ from the DMS defaults, or that the orchestrator relies on, are
written; DMS fills in the rest. Each value set here carries a comment saying why
(reference/dms.md §3 for the defaults, limits and quirks cited).

Overrides are merged section by section; values DMS rejects or that lose data on S3 raise
``ConfigError``.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping

from sqlfleet.catalog import DatabaseEntry
from sqlfleet.engines.base import MigrationType
from sqlfleet.errors import ConfigError

LOG_COMPONENTS = (
    "SOURCE_UNLOAD",
    "SOURCE_CAPTURE",
    "TARGET_LOAD",
    "TARGET_APPLY",
    "TASK_MANAGER",
    "TABLES_MANAGER",
    "METADATA_MANAGER",
    "FILE_FACTORY",
    "SORTER",
    "TRANSFORMATION",
)
LOG_SEVERITIES = frozenset(
    {
        "LOGGER_SEVERITY_ERROR",
        "LOGGER_SEVERITY_WARNING",
        "LOGGER_SEVERITY_INFO",
        "LOGGER_SEVERITY_DEFAULT",
        "LOGGER_SEVERITY_DEBUG",
        "LOGGER_SEVERITY_DETAILED_DEBUG",
    }
)
COMMIT_RATE = 10_000
RECOVERABLE_ERROR_COUNT = 10
_PREP_MODES = frozenset({"DO_NOTHING", "DROP_AND_CREATE", "TRUNCATE_BEFORE_LOAD"})
_ERROR_POLICIES = frozenset({"IGNORE_RECORD", "LOG_ERROR", "SUSPEND_TABLE", "STOP_TASK"})
_MODES: tuple[MigrationType, ...] = ("full-load", "cdc", "full-load-and-cdc")


def build_task_settings(
    entry: DatabaseEntry, mode: MigrationType, *, overrides: Mapping[str, object] | None = None
) -> str:
    """The ``ReplicationTaskSettings`` JSON of ``entry``'s task in ``mode``.

    ``overrides`` is shaped like the settings (``{"FullLoadSettings": {"CommitRate": 20000}}``);
    each section is merged key by key (``Logging.LogComponents`` is replaced whole).
    """
    if mode not in _MODES:
        raise ValueError(f"unknown migration type {mode!r}: use one of {', '.join(_MODES)}")
    settings = _defaults(entry, mode)
    merged: dict[str, object] = dict(settings)
    for section, values in (overrides or {}).items():
        current = merged.get(section)
        if isinstance(values, Mapping) and isinstance(current, dict):
            merged[section] = {**current, **copy.deepcopy(dict(values))}
        else:
            merged[section] = copy.deepcopy(values)
    problems = task_settings_problems(merged)
    if problems:
        raise ConfigError(f"task settings of {entry.name} ({mode}): " + "; ".join(problems))
    return json.dumps(merged, indent=2)


def _defaults(entry: DatabaseEntry, mode: MigrationType) -> dict[str, dict[str, object]]:
    settings: dict[str, dict[str, object]] = {
        "TargetMetadata": {
            "SupportLobs": True,
            # Full LOB mode is not supported on an S3 target; limited mode truncates LOBs above
            # LobMaxSize, so the catalog sets it per database from measured source maxima.
            "FullLobMode": False,
            "LimitedSizeLobMode": True,
            "LobMaxSize": entry.lob_max_size_kb,
            # Not supported on S3: the user guide says it "might result in loss of data".
            "BatchApplyEnabled": False,
        },
        "FullLoadSettings": {
            # Full loads replace the table's files, so a smaller reload leaves no stale
            # LOAD000000xx behind; a CDC-only task must never touch the loaded files.
            "TargetTablePrepMode": "DO_NOTHING" if mode == "cdc" else "DROP_AND_CREATE",
            # Tables (or parallel-load segments) loaded at once; default 8, max 49, per catalog.
            "MaxFullLoadSubTasks": entry.max_full_load_subtasks,
            # The default, kept on purpose: limited LOB mode buffers about LobMaxSize x CommitRate
            # per sub-task, so raising it multiplies memory; override for LOB-free databases.
            "CommitRate": COMMIT_RATE,
        },
        "ErrorBehavior": {
            # One bad table fails alone (as in the embedded engine); the task can still stop
            # "finished", so the orchestrator checks TablesErrored and table statistics.
            "TableErrorPolicy": "SUSPEND_TABLE",
            "TableErrorEscalationPolicy": "STOP_TASK",
            # The default -1 retries forever: a broken task would never reach "failed".
            "RecoverableErrorCount": RECOVERABLE_ERROR_COUNT,
            "RecoverableErrorInterval": 5,
            "RecoverableErrorThrottling": True,
            "RecoverableErrorThrottlingMax": 1800,
            # Default false: mappings that match no table would "succeed" with nothing loaded.
            "FailOnNoTablesCaptured": True,
        },
        "Logging": {
            # CloudWatch logs (needs the account role dms-cloudwatch-logs-role); the only
            # settings DMS lets you change while a task runs are these severities.
            "EnableLogging": True,
            "LogComponents": [{"Id": c, "Severity": "LOGGER_SEVERITY_DEFAULT"} for c in LOG_COMPONENTS],
        },
    }
    if mode != "full-load":
        # A source TRUNCATE or DROP during CDC deletes the table's S3 files (user guide), which
        # the warehouse manifest still references: do not apply those two to the target.
        settings["ChangeProcessingDdlHandlingPolicy"] = {
            "HandleSourceTableDropped": False,
            "HandleSourceTableTruncated": False,
            "HandleSourceTableAltered": True,
        }
    return settings


def task_settings_problems(settings: Mapping[str, object]) -> list[str]:
    """Values DMS rejects, or that lose data on an S3 target, in ``settings`` (parsed JSON)."""
    problems: list[str] = []
    target = _section(settings, "TargetMetadata", problems)
    full = _section(settings, "FullLoadSettings", problems)
    errors = _section(settings, "ErrorBehavior", problems)
    logging = _section(settings, "Logging", problems)
    if target.get("BatchApplyEnabled") is True:
        problems.append("TargetMetadata.BatchApplyEnabled must be false on an S3 target (DMS: may lose data)")
    if target.get("FullLobMode") is True:
        problems.append("TargetMetadata.FullLobMode is not supported on an S3 target: use LimitedSizeLobMode")
    _int_in(problems, target, "TargetMetadata.LobMaxSize", 1, 102_400)
    _int_in(problems, full, "FullLoadSettings.MaxFullLoadSubTasks", 1, 49)
    _int_in(problems, full, "FullLoadSettings.CommitRate", 1, 50_000)
    if full.get("TargetTablePrepMode", "DO_NOTHING") not in _PREP_MODES:
        problems.append(f"FullLoadSettings.TargetTablePrepMode must be one of {sorted(_PREP_MODES)}")
    for key in ("TableErrorPolicy", "DataErrorPolicy", "DataTruncationErrorPolicy", "TableErrorEscalationPolicy"):
        if key in errors and errors[key] not in _ERROR_POLICIES:
            problems.append(f"ErrorBehavior.{key} must be one of {sorted(_ERROR_POLICIES)}, got {errors[key]!r}")
    count = errors.get("RecoverableErrorCount", -1)
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        problems.append("ErrorBehavior.RecoverableErrorCount must be a finite count >= 0 (-1 retries forever)")
    components = logging.get("LogComponents", [])
    for component in components if isinstance(components, list) else [components]:
        if not isinstance(component, dict) or component.get("Severity") not in LOG_SEVERITIES:
            problems.append(f"Logging.LogComponents: bad entry {component!r}")
    return problems


def _section(settings: Mapping[str, object], name: str, problems: list[str]) -> Mapping[str, object]:
    value = settings.get(name, {})
    if not isinstance(value, Mapping):
        problems.append(f"{name} must be an object")
        return {}
    return value


def _int_in(problems: list[str], section: Mapping[str, object], path: str, low: int, high: int) -> None:
    key = path.rpartition(".")[2]
    if key not in section:
        return
    value = section[key]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        problems.append(f"{path} must be an integer {low}..{high}, got {value!r}")

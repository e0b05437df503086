"""DMS API records as the engine port's values (pure): task status and table statistics."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlfleet import layout
from sqlfleet.engines.base import TableStatistics, TaskStats, TaskStatus

#: DMS keeps a table's error in the task log, not in its statistics.
TABLE_ERROR_HINT = "DMS reports 'Table error'; the reason is in the task's CloudWatch log"


def naive_utc(value: object) -> datetime | None:
    """A botocore timestamp as naive UTC (the project's convention)."""
    if not isinstance(value, datetime):
        return None
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def task_status(item: Mapping[str, Any]) -> TaskStatus:
    """A ``DescribeReplicationTasks`` entry as a ``TaskStatus``."""
    stats = item.get("ReplicationTaskStats") or {}
    return TaskStatus(
        identifier=str(item["ReplicationTaskIdentifier"]),
        arn=str(item["ReplicationTaskArn"]),
        status=item["Status"],
        stop_reason=item.get("StopReason") or None,
        last_failure_message=item.get("LastFailureMessage") or None,
        recovery_checkpoint=item.get("RecoveryCheckpoint") or None,
        stats=TaskStats(
            full_load_progress_percent=int(stats.get("FullLoadProgressPercent", 0)),
            elapsed_time_millis=int(stats.get("ElapsedTimeMillis", 0)),
            tables_loaded=int(stats.get("TablesLoaded", 0)),
            tables_loading=int(stats.get("TablesLoading", 0)),
            tables_queued=int(stats.get("TablesQueued", 0)),
            tables_errored=int(stats.get("TablesErrored", 0)),
            start_date=naive_utc(stats.get("StartDate")),
            stop_date=naive_utc(stats.get("StopDate")),
        ),
    )


def table_statistics_from(row: Mapping[str, Any], *, shared_endpoint: bool = False) -> TableStatistics:
    """A ``DescribeTableStatistics`` entry as ``TableStatistics``.

    With a shared target endpoint the schema may come back renamed (``<database>/<schema>``);
    it is mapped back to the source schema, which is what verification expects.
    """
    schema = str(row["SchemaName"])
    if shared_endpoint and "/" in schema:
        schema = layout.split_shared_schema(schema)[1]
    state = row.get("TableState", "Before load")
    return TableStatistics(
        schema_name=schema,
        table_name=str(row["TableName"]),
        table_state=state,
        full_load_rows=int(row.get("FullLoadRows", 0)),
        inserts=int(row.get("Inserts", 0)),
        updates=int(row.get("Updates", 0)),
        deletes=int(row.get("Deletes", 0)),
        full_load_start_time=naive_utc(row.get("FullLoadStartTime")),
        full_load_end_time=naive_utc(row.get("FullLoadEndTime")),
        last_update_time=naive_utc(row.get("LastUpdateTime")),
        error=TABLE_ERROR_HINT if state == "Table error" else None,
    )

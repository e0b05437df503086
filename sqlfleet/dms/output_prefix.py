"""Where a database's task writes in the lake, and whether DMS agrees with the plan (pure).

DMS writes ``BucketName/BucketFolder/<schema>/<table>/``, where the folder comes from the task's
S3 target endpoint and ``<schema>`` from any schema transformation in its table mappings. Two
tasks writing one prefix write the same files (reference/dms.md §1.1), so the engine checks the
location against the plan before every start and after every run, and a mismatch stops that
database before anything of it is verified or loaded (DESIGN.md, "Per-database output folders").

- ``per-database-endpoint``: ``BucketFolder == <root>/<database>``; the mappings move no schema.
- ``shared-endpoint``: ``BucketFolder == <root>``; the mappings add the prefix ``<database>/`` to
  every schema (``layout.shared_schema_prefix``), and to nothing else.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from sqlfleet import layout
from sqlfleet.dms.placement import EndpointStrategy

#: Schema transformations that change the folder a table lands in.
_MOVING_ACTIONS = frozenset(
    {"rename", "add-prefix", "remove-prefix", "replace-prefix", "add-suffix", "remove-suffix", "replace-suffix"}
)


class OutputLocation(BaseModel):
    """Where the plan says one database's task writes."""

    model_config = ConfigDict(frozen=True)

    database: str
    bucket: str
    folder: str
    #: The schema prefix the shared-endpoint strategy adds (``<database>/``); ``None`` otherwise.
    schema_prefix: str | None = None

    @property
    def prefix(self) -> str:
        """``s3://bucket/folder/[<database>/]`` for messages."""
        tail = f"{self.folder}/" if self.folder else ""
        return f"s3://{self.bucket}/{tail}{self.schema_prefix or ''}"


def planned_location(database: str, *, strategy: EndpointStrategy, bucket: str, root: str) -> OutputLocation:
    """The location of ``database``'s output under the lake ``root`` folder of ``bucket``."""
    if strategy == "per-database-endpoint":
        return OutputLocation(database=database, bucket=bucket, folder=layout.bucket_folder(root, database))
    return OutputLocation(
        database=database,
        bucket=bucket,
        folder=layout.bucket_folder(root),
        schema_prefix=layout.shared_schema_prefix(database),
    )


def _schema_moves(table_mappings: str) -> list[tuple[str, str, str]]:
    """``(rule-action, schema pattern, value)`` of the schema transformations that move output."""
    try:
        rules: Any = json.loads(table_mappings).get("rules", [])
    except (ValueError, AttributeError):
        return [("unreadable", "", table_mappings[:80])]
    return [
        (str(r.get("rule-action")), str((r.get("object-locator") or {}).get("schema-name")), str(r.get("value", "")))
        for r in rules
        if isinstance(r, dict)
        and r.get("rule-type") == "transformation"
        and r.get("rule-target") == "schema"
        and r.get("rule-action") in _MOVING_ACTIONS
    ]


def location_problems(
    planned: OutputLocation, s3_settings: Mapping[str, Any], table_mappings: str | None = None
) -> list[str]:
    """How the endpoint's ``S3Settings`` (and, when given, the task's mappings) disagree with the plan."""
    problems = []
    bucket = str(s3_settings.get("BucketName") or "")
    folder = str(s3_settings.get("BucketFolder") or "").strip("/")
    if bucket != planned.bucket:
        problems.append(f"the target endpoint writes to bucket {bucket!r}, the plan says {planned.bucket!r}")
    if folder != planned.folder:
        problems.append(f"the target endpoint's BucketFolder is {folder!r}, the plan says {planned.folder!r}")
    if table_mappings is not None:
        moves = _schema_moves(table_mappings)
        expected = [("add-prefix", "%", planned.schema_prefix)] if planned.schema_prefix else []
        if moves != expected:
            found = ", ".join(f"{a} {p!r} -> {v!r}" for a, p, v in moves) or "none"
            wanted = f"add-prefix '%' -> {planned.schema_prefix!r}" if planned.schema_prefix else "none"
            problems.append(f"the task's schema transformations are [{found}], the plan says [{wanted}]")
    return problems

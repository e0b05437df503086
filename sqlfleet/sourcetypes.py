"""SQL Server declared column types and the Arrow types DMS writes for them.

The mapping follows the DMS S3 Parquet target (reference/extraction.md §5): exact decimals stay
``decimal128(p,s)``, datetimes are ``timestamp[us]`` without a zone, ``bit`` is a boolean,
binary stays binary, and only genuinely textual types become strings.
"""

from __future__ import annotations

import re
from typing import Literal

import pyarrow as pa
from pydantic import BaseModel, ConfigDict

SourceKind = Literal["integer", "boolean", "float", "decimal", "text", "datetime", "date", "time", "binary"]

#: The first column of every DMS file when ``IncludeOpForFullLoad`` is on.
OP_COLUMN = "Op"

_DECLARED = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_ ]*?)\s*(?:\(\s*([^)]*)\s*\))?\s*$")

_INTEGERS: dict[str, pa.DataType] = {
    "bigint": pa.int64(),
    "int": pa.int32(),
    "integer": pa.int64(),  # SQLite's INTEGER is 64-bit; SQL Server spells 32-bit "int"
    "smallint": pa.int16(),
    "tinyint": pa.uint8(),
}
_TEXT = {
    "char",
    "varchar",
    "nchar",
    "nvarchar",
    "text",
    "ntext",
    "xml",
    "sysname",
    "clob",
    "character",
    "character varying",
    "national character varying",
    "datetimeoffset",
    "uniqueidentifier",
    "hierarchyid",
    "sql_variant",
    "string",
}
_BINARY = {"binary", "varbinary", "image", "blob", "rowversion", "timestamp", "geography", "geometry"}
_DATETIME = {"datetime", "datetime2", "smalldatetime"}


class ColumnType(BaseModel):
    """One source column: its declared type, the kind of conversion it needs, its Arrow type."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    name: str
    declared: str
    kind: SourceKind
    arrow_type: pa.DataType
    nullable: bool = True


def _decimal(args: str | None, default: tuple[int, int] = (18, 0)) -> pa.DataType:
    precision, scale = default
    if args:
        nums = [a.strip() for a in args.split(",")]
        precision = int(nums[0])
        scale = int(nums[1]) if len(nums) > 1 else 0
    if not (1 <= precision <= 38 and 0 <= scale <= precision):
        raise ValueError(f"decimal({precision},{scale}) is outside SQL Server's range")
    return pa.decimal128(precision, scale)


def map_declared_type(declared: str, storage_hint: str | None = None) -> tuple[SourceKind, pa.DataType]:
    """Return the conversion kind and Arrow type for a declared SQL Server (or SQLite) type.

    ``storage_hint`` is SQLite's ``typeof()`` of a sample value; it types columns that have no
    declared type (view columns computed by an expression). Unknown types become strings, the
    same fallback DMS applies to types it does not map.
    """
    match = _DECLARED.match(declared or "")
    if not declared or not declared.strip() or match is None:
        return _from_storage(storage_hint)
    base = " ".join(match.group(1).lower().split())
    args = match.group(2)
    if base in _INTEGERS:
        return "integer", _INTEGERS[base]
    if base == "bit" or base in {"bool", "boolean"}:
        return "boolean", pa.bool_()
    if base in {"decimal", "numeric"}:
        return "decimal", _decimal(args)
    if base == "money":
        return "decimal", pa.decimal128(19, 4)
    if base == "smallmoney":
        return "decimal", pa.decimal128(10, 4)
    if base == "real":
        return "float", pa.float32()
    if base in {"float", "double", "double precision"}:
        if base == "float" and args and args.strip().isdigit() and int(args) <= 24:
            return "float", pa.float32()
        return "float", pa.float64()
    if base in _DATETIME:
        return "datetime", pa.timestamp("us")
    if base == "date":
        return "date", pa.date32()
    if base == "time":
        return "time", pa.time64("us")
    if base in _BINARY:
        return "binary", pa.binary()
    if base in _TEXT:
        return "text", pa.string()
    return "text", pa.string()


def _from_storage(storage_hint: str | None) -> tuple[SourceKind, pa.DataType]:
    if storage_hint == "integer":
        return "integer", pa.int64()
    if storage_hint == "real":
        return "float", pa.float64()
    if storage_hint == "blob":
        return "binary", pa.binary()
    return "text", pa.string()


def column_type(name: str, declared: str, nullable: bool = True, storage_hint: str | None = None) -> ColumnType:
    """Build the ``ColumnType`` of one source column."""
    kind, arrow_type = map_declared_type(declared, storage_hint)
    return ColumnType(name=name, declared=declared, kind=kind, arrow_type=arrow_type, nullable=nullable)


def dms_file_schema(columns: list[ColumnType], timestamp_column: str) -> pa.Schema:
    """Arrow schema of a DMS full-load file: ``Op``, the timestamp column (a string), the data."""
    fields = [pa.field(OP_COLUMN, pa.string()), pa.field(timestamp_column, pa.string())]
    names = {OP_COLUMN.lower(), timestamp_column.lower()}
    for col in columns:
        if col.name.lower() in names:
            raise ValueError(f"column {col.name!r} collides with a DMS metadata column")
        # DMS writes every Parquet column as optional, whatever the source declares.
        fields.append(pa.field(col.name, col.arrow_type))
    return pa.schema(fields)

"""The catalog's models: one fleet database, its selection patterns and table options.

Pure data with validation; reading the YAML file and listing problems lives in ``sqlfleet.catalog``,
which re-exports everything public here.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from sqlfleet.layout import check_name_part
from sqlfleet.settings import path_from_url

SourceKind = Literal["sqlite", "mssql"]
PartitionMode = Literal["auto", "ranges"]
#: What a ``cdc`` run does for a database that has no checkpoint yet: fail it (saying to run a full
#: load), or run a ``full-load-and-cdc`` for it instead, which records where the next delta starts.
CdcWithoutCheckpoint = Literal["fail", "full-load"]

_MODEL = ConfigDict(frozen=True, extra="forbid")
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")
_SOURCE_HELP = "use sqlite:///relative/path.db, sqlite:////absolute/path.db or mssql://host:1433/Database"


def like_match(pattern: str, name: str) -> bool:
    """Whether ``name`` matches a DMS-style ``pattern`` as a whole, ignoring case.

    ``%`` matches any run of characters (including none); every other character, ``_`` included,
    matches only itself.
    """
    return _like_regex(pattern).fullmatch(name.casefold()) is not None


@lru_cache(maxsize=4096)
def _like_regex(pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in pattern.casefold().split("%")), re.DOTALL)


def name_key(name: str) -> str:
    """The form two database names must not share: AWS DMS identifiers and Prefect artifact keys
    cannot hold ``_`` (it becomes ``-``), and both are case-insensitive."""
    return name.casefold().replace("_", "-")


def _check_database_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise ValueError(
            f"invalid database name {name!r}: use letters, digits, '_' and '-', "
            "starting with a letter, at most 64 characters"
        )
    if name[-1] in "-_" or re.search(r"[-_]{2}", name):
        # DMS identifiers (<name>-full) cannot end with '-' or hold '--', and '_' becomes '-'
        raise ValueError(f"invalid database name {name!r}: no trailing or doubled '-'/'_' (a DMS identifier rule)")
    return name


def _check_pattern(pattern: str) -> str:
    if not pattern:
        raise ValueError("an empty pattern matches no name; use '%' for any name")
    return pattern


def _check_schema(name: str) -> str:
    return check_name_part(name, "schema")


def _check_boundary(value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"a boundary must be a number or a string, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"a boundary must be finite, got {value!r}")
    return value


Flag = Annotated[bool, Field(strict=True)]
SubtaskCount = Annotated[int, Field(strict=True, ge=1, le=49)]
LobSizeKb = Annotated[int, Field(strict=True, ge=1, le=102_400)]
#: Megabytes (1 MB = 1024 × 1024 bytes, as SQL Server reports sizes); a number, not a string.
SizeMb = Annotated[float, Field(strict=True, gt=0, allow_inf_nan=False)]
Text = Annotated[str, Field(min_length=1)]
NamePattern = Annotated[str, AfterValidator(_check_pattern)]
SchemaName = Annotated[str, AfterValidator(_check_schema)]
Boundary = Annotated[int | float | str, BeforeValidator(_check_boundary)]


class Selection(BaseModel):
    """Include/exclude name patterns (see ``like_match``): a name is selected when it matches
    some include pattern and no exclude pattern."""

    model_config = _MODEL

    include: tuple[NamePattern, ...] = ("%",)
    exclude: tuple[NamePattern, ...] = ()

    @field_validator("include")
    @classmethod
    def _some_include(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("include needs at least one pattern (['%'] selects every name)")
        return value

    def matches(self, name: str) -> bool:
        """Whether ``name`` is selected."""
        return any(like_match(p, name) for p in self.include) and not any(like_match(p, name) for p in self.exclude)


class Partition(BaseModel):
    """How a big table's full load is split (DMS ``parallel-load``).

    ``auto`` uses the source table's own partitions. ``ranges`` splits on ``column`` at
    ``boundaries``, each an upper bound: n boundaries make n + 1 segments.
    """

    model_config = _MODEL

    mode: PartitionMode
    column: Text | None = None
    boundaries: tuple[Boundary, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> Partition:
        if self.mode == "auto":
            if self.column is not None or self.boundaries:
                raise ValueError("partition mode 'auto' takes no column or boundaries")
            return self
        missing = [key for key, value in (("column", self.column), ("boundaries", self.boundaries)) if not value]
        if missing:
            raise ValueError(f"partition mode 'ranges' needs {' and '.join(missing)}")
        numeric = [not isinstance(b, str) for b in self.boundaries]
        if any(numeric) and not all(numeric):
            raise ValueError("boundaries must be all numbers or all strings")
        values: list[Any] = list(self.boundaries)
        if any(not low < high for low, high in pairwise(values)):
            raise ValueError(f"boundaries must be strictly increasing, got {values}")
        return self


class TableOption(BaseModel):
    """Hints for one table, named exactly (case-insensitive) as ``schema.table``."""

    model_config = _MODEL

    table: str
    big: Flag = False
    partition: Partition | None = None
    key_columns: tuple[Text, ...] = ()

    @field_validator("table")
    @classmethod
    def _qualified(cls, value: str) -> str:
        schema, dot, table = value.partition(".")
        if not dot or not schema or not table:
            raise ValueError(f"table {value!r} must be written 'schema.table'")
        check_name_part(schema, "schema")
        check_name_part(table, "table")
        return value

    @field_validator("key_columns")
    @classmethod
    def _distinct(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len({c.casefold() for c in value}) != len(value):
            raise ValueError(f"key_columns repeats a column: {list(value)}")
        return value

    @property
    def schema_name(self) -> str:
        """The part before the first dot."""
        return self.table.partition(".")[0]

    @property
    def table_name(self) -> str:
        """The part after the first dot."""
        return self.table.partition(".")[2]


class Credentials(BaseModel):
    """Login for an mssql source. ``password_secret`` says where the password is kept (a Prefect
    Secret block name or an AWS Secrets Manager ARN); the password itself is never in the catalog."""

    model_config = _MODEL

    username: Text
    password_secret: Text


class CatalogDefaults(BaseModel):
    """The ``defaults`` section: the per-database options that may be set fleet-wide."""

    model_config = _MODEL

    default_schema: SchemaName = "dbo"
    credentials: Credentials | None = None
    schemas: Selection = Selection()
    tables: Selection = Selection()
    views: Flag = True
    max_full_load_subtasks: SubtaskCount = 8
    lob_max_size_kb: LobSizeKb = 32
    cdc_without_checkpoint: CdcWithoutCheckpoint = "fail"


class DatabaseEntry(BaseModel):
    """One source database of the fleet.

    ``source`` is a resolved URL: ``sqlite:////absolute/path.db`` or ``mssql://host:port/Database``
    (catalog loading makes relative sqlite paths absolute against the catalog file's folder).
    SQLite has no schemas, so every SQLite table is reported in ``default_schema``.
    ``size_mb`` is the user's statement of the data the run copies (``sqlfleet prereqs --sizes``
    prints the T-SQL that measures it); the start order uses it where no earlier run is known. It
    is per database only: one fleet-wide size would rank nothing.
    """

    model_config = _MODEL

    name: Annotated[str, AfterValidator(_check_database_name)]
    enabled: Flag
    source: str
    default_schema: SchemaName = "dbo"
    credentials: Credentials | None = None
    schemas: Selection = Selection()
    tables: Selection = Selection()
    views: Flag = True
    max_full_load_subtasks: SubtaskCount = 8
    lob_max_size_kb: LobSizeKb = 32
    cdc_without_checkpoint: CdcWithoutCheckpoint = "fail"
    size_mb: SizeMb | None = None
    table_options: tuple[TableOption, ...] = ()

    @field_validator("source")
    @classmethod
    def _known_source(cls, value: str) -> str:
        source_kind_of(value)
        return value

    @field_validator("table_options")
    @classmethod
    def _one_option_per_table(cls, value: tuple[TableOption, ...]) -> tuple[TableOption, ...]:
        seen: dict[tuple[str, str], int] = {}
        for i, option in enumerate(value):
            key = (option.schema_name.casefold(), option.table_name.casefold())
            if key in seen:
                raise ValueError(f"table_options[{seen[key]}] and [{i}] both describe {option.table!r}")
            seen[key] = i
        return value

    @property
    def source_kind(self) -> SourceKind:
        """``sqlite`` or ``mssql``."""
        return source_kind_of(self.source)

    @property
    def sqlite_path(self) -> Path:
        """The SQLite file of a sqlite source; ``ValueError`` for other sources."""
        if self.source_kind != "sqlite":
            raise ValueError(f"database {self.name!r} is not a sqlite source: {self.source_kind}")
        return path_from_url(self.source, "sqlite")

    @property
    def size_hint_bytes(self) -> int | None:
        """``size_mb`` in bytes, if the catalog states it."""
        return None if self.size_mb is None else round(self.size_mb * 1024 * 1024)

    def wants_table(self, schema: str, table: str) -> bool:
        """Whether ``schema.table`` is selected by both the schema and the table patterns."""
        return self.schemas.matches(schema) and self.tables.matches(table)

    def option_for(self, schema: str, table: str) -> TableOption | None:
        """The table option naming exactly ``schema.table`` (ignoring case), if any."""
        for option in self.table_options:
            if (option.schema_name.casefold(), option.table_name.casefold()) == (
                schema.casefold(),
                table.casefold(),
            ):
                return option
        return None


class Catalog(BaseModel):
    """A validated catalog; ``origin`` names where it came from (a file path) for messages."""

    model_config = _MODEL

    databases: tuple[DatabaseEntry, ...]
    origin: str = "catalog"

    @model_validator(mode="after")
    def _distinct_names(self) -> Catalog:
        seen: dict[str, str] = {}
        for db in self.databases:
            first = seen.get(name_key(db.name))
            if first is not None:
                raise ValueError(f"database names {first!r} and {db.name!r} collide")
            seen[name_key(db.name)] = db.name
        return self

    def get(self, name: str) -> DatabaseEntry | None:
        """The database called exactly ``name``, if any."""
        return next((db for db in self.databases if db.name == name), None)


def source_kind_of(url: str) -> SourceKind:
    """``sqlite`` or ``mssql`` for a well-formed source URL; ``ValueError`` saying what is wrong otherwise."""
    if url.startswith("sqlite:///"):
        if url in {"sqlite:///", "sqlite:////"}:
            raise ValueError(f"sqlite source has no path: {_SOURCE_HELP}")
        return "sqlite"
    if url.startswith("mssql://"):
        parts = urlsplit(url)
        if "@" in parts.netloc:
            raise ValueError("put the login in 'credentials' (username, password_secret), not in the source URL")
        try:
            _ = parts.port
        except ValueError:
            raise ValueError(f"bad port in source {url!r}") from None
        if not parts.hostname or not re.fullmatch(r"/[^/]+", parts.path) or parts.query or parts.fragment:
            raise ValueError(f"mssql source must look like mssql://host:1433/Database, got {url!r}")
        return "mssql"
    raise ValueError(f"unsupported source {url!r}: {_SOURCE_HELP}")

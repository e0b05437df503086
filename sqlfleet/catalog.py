"""The fleet catalog: which databases to replicate, from where, and with which options.

The catalog is a YAML file::

    defaults:                       # optional; per-database options (not name, enabled, source, size_mb, table_options)
      max_full_load_subtasks: 8
    databases:
      - name: sales_eu
        enabled: true
        source: sqlite:///sources/sales_eu.db      # relative to the catalog file's folder
        tables: {include: ["%"], exclude: ["tmp%"]}
        cdc_without_checkpoint: fail                # or full-load: a first delta runs a full load
        size_mb: 1250.5                             # data to copy, MB: ranks a first run (prereqs --sizes)
        table_options:
          - {table: "dbo.Orders", big: true, partition: {mode: auto}, key_columns: [OrderId]}

Loading validates everything in one pass and raises one ``CatalogError`` listing every problem as
``<file>:<line>: <path>: <message>``, so nothing starts on a half-valid catalog.

Name patterns use ``%`` as the only wildcard; ``_`` is a literal underscore, unlike in DMS
selection rules (where it matches any character), so a DMS rule built from a pattern must write
``_`` as ``[_]``.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Mapping, Sequence
from contextlib import closing
from pathlib import Path

from pydantic import ValidationError

from sqlfleet.catalog_models import (
    Boundary,
    Catalog,
    CatalogDefaults,
    Credentials,
    DatabaseEntry,
    Partition,
    PartitionMode,
    Selection,
    SourceKind,
    TableOption,
    like_match,
    name_key,
    source_kind_of,
)
from sqlfleet.catalog_yaml import Document, YamlSyntaxError, dump_yaml, read_document, unknown_key
from sqlfleet.errors import CatalogError
from sqlfleet.settings import path_from_url

__all__ = [
    "Boundary",
    "Catalog",
    "CatalogDefaults",
    "Credentials",
    "DatabaseEntry",
    "Partition",
    "PartitionMode",
    "Selection",
    "SourceKind",
    "TableOption",
    "apply_enabled_overrides",
    "like_match",
    "load_catalog",
    "name_key",
    "parse_catalog",
    "render_catalog",
    "select_databases",
    "source_kind_of",
]

_TOP_KEYS = ("defaults", "databases")


def parse_catalog(text: str, origin: str, base_dir: Path, check_sources: bool = True) -> Catalog:
    """Validate catalog YAML; raise one ``CatalogError`` listing every problem, in file order.

    ``origin`` prefixes each problem (``catalog.yaml:12: databases[2] (x).enbled: unknown key``);
    relative sqlite paths are resolved against ``base_dir``. With ``check_sources`` every sqlite
    file must exist and open read-only as SQLite (mssql sources are not contacted here).
    """
    try:
        doc = read_document(text, origin)
    except YamlSyntaxError as exc:
        raise CatalogError([f"{origin}:{exc.line}: YAML syntax error: {exc.message}"], source=origin) from None
    entries = _validate(doc, base_dir, check_sources)
    problems = doc.sorted_problems()
    if problems:
        raise CatalogError(problems, source=origin)
    return Catalog(databases=tuple(entries), origin=origin)


def load_catalog(path: Path, check_sources: bool = True) -> Catalog:
    """Read and validate the catalog file at ``path`` (see ``parse_catalog``)."""
    origin = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CatalogError(
            [f"{origin}: catalog file not found (working directory: {Path.cwd()})"], source=origin
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogError([f"{origin}: cannot read the catalog file: {exc}"], source=origin) from None
    return parse_catalog(text, origin, Path(os.path.abspath(path)).parent, check_sources)


def _validate(doc: Document, base_dir: Path, check_sources: bool) -> list[DatabaseEntry]:
    root = doc.data
    if not isinstance(root, dict):
        doc.add((), "the catalog must be a mapping with a 'databases' list")
        return []
    for key in root:
        if key not in _TOP_KEYS:
            doc.add((str(key),), unknown_key(key, _TOP_KEYS))
    defaults = _validate_defaults(doc, root.get("defaults"))
    if "databases" not in root:
        doc.add((), "missing required key 'databases'")
        return []
    # `databases:` with every entry commented out is an empty fleet, not a mistake
    items = root["databases"] if root["databases"] is not None else []
    if not isinstance(items, list):
        doc.add(("databases",), f"must be a list of databases, got {type(items).__name__}")
        return []
    entries: list[DatabaseEntry] = []
    first_by_key: dict[str, tuple[str, int]] = {}
    for i, item in enumerate(items):
        loc = ("databases", i)
        if not isinstance(item, dict):
            doc.add(loc, "each database must be a mapping (name, enabled, source, ...)")
            continue
        name = item.get("name")
        if isinstance(name, str):
            first = first_by_key.setdefault(name_key(name), (name, i))
            if first[1] != i:
                doc.add(
                    (*loc, "name"),
                    f"duplicate database name {name!r}: same as {first[0]!r} (databases[{first[1]}], "
                    f"line {doc.line(('databases', first[1], 'name'))}); names must differ ignoring case "
                    "and '_' vs '-'",
                )
        data = {**defaults, **item}
        if isinstance(data.get("source"), str):
            data["source"] = _resolve_source(data["source"], base_dir)
            if check_sources and _kind_or_none(data["source"]) == "sqlite":
                problem = _sqlite_problem(path_from_url(data["source"], "sqlite"))
                if problem is not None:
                    doc.add((*loc, "source"), problem)
        try:
            entries.append(DatabaseEntry.model_validate(data))
        except ValidationError as exc:
            doc.add_validation_errors(exc, loc, DatabaseEntry)
    return entries


def _validate_defaults(doc: Document, raw: object) -> dict[str, object]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        doc.add(("defaults",), f"must be a mapping of per-database options, got {type(raw).__name__}")
        return {}
    try:
        model = CatalogDefaults.model_validate(raw)
    except ValidationError as exc:
        doc.add_validation_errors(exc, ("defaults",), CatalogDefaults)
        # invalid defaults are reported once here, not again under every database
        return {}
    return {key: raw[key] for key in model.model_fields_set}


def apply_enabled_overrides(
    catalog: Catalog, overrides: object, *, origin: str = "override"
) -> tuple[Catalog, list[str]]:
    """Return ``catalog`` with ``enabled`` replaced per database name, and warnings.

    ``overrides`` is a JSON object ``{database name: true|false}`` (e.g. a Prefect Variable's
    value); ``None`` means no overrides. Names not in the catalog and values that are not booleans
    are ignored with a warning. Any other shape raises ``CatalogError`` whose source is ``origin``.
    """
    if overrides is None:
        return catalog, []
    if not isinstance(overrides, Mapping):
        kind = type(overrides).__name__
        raise CatalogError(
            [f"{origin}: must be a JSON object of database name to true/false, got {kind}"], source=origin
        )
    known = {db.name for db in catalog.databases}
    by_key = {name_key(db.name): db.name for db in catalog.databases}
    flags: dict[str, bool] = {}
    warnings: list[str] = []
    for name, value in overrides.items():
        if name not in known:
            near = by_key.get(name_key(name)) if isinstance(name, str) else None
            hint = f" (did you mean {near!r}?)" if near else ""
            warnings.append(f"{origin}: {name!r} is not a database of {catalog.origin}; ignored{hint}")
        elif not isinstance(value, bool):
            warnings.append(f"{origin}: {name!r}: expected true or false, got {value!r}; ignored")
        else:
            flags[name] = value
    databases = tuple(
        db.model_copy(update={"enabled": flags[db.name]}) if db.name in flags else db for db in catalog.databases
    )
    return catalog.model_copy(update={"databases": databases}), warnings


def select_databases(catalog: Catalog, names: Sequence[str] | None = None) -> list[DatabaseEntry]:
    """The databases to run, in catalog order.

    Without ``names``: every enabled database. With ``names``: exactly those databases, *including
    disabled ones* — naming a database is an explicit request that overrides its ``enabled`` flag.
    Names not in the catalog raise one ``CatalogError`` listing all of them.
    """
    if names is None:
        return [db for db in catalog.databases if db.enabled]
    if isinstance(names, str):
        raise TypeError("names must be a sequence of database names, not one string")
    known = {db.name for db in catalog.databases}
    unknown = [name for name in dict.fromkeys(names) if name not in known]
    if unknown:
        raise CatalogError([f"{catalog.origin}: no database named {name!r}" for name in unknown], source=catalog.origin)
    wanted = set(names)
    return [db for db in catalog.databases if db.name in wanted]


def render_catalog(entries: Sequence[Mapping[str, object]]) -> str:
    """Catalog YAML listing ``entries`` (plain dicts with the keys of a catalog database).

    The text is validated with ``parse_catalog`` (without touching sources), so what is written
    loads back; invalid entries raise ``CatalogError``.
    """
    text = "# sqlfleet catalog\n" + dump_yaml({"databases": [dict(entry) for entry in entries]})
    parse_catalog(text, "rendered catalog", Path.cwd(), check_sources=False)
    return text


def _resolve_source(url: str, base_dir: Path) -> str:
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////") and url != "sqlite:///":
        path = Path(os.path.abspath(base_dir / path_from_url(url, "sqlite")))
        return f"sqlite:///{path.as_posix()}"
    return url


def _kind_or_none(url: str) -> SourceKind | None:
    try:
        return source_kind_of(url)
    except ValueError:
        return None


def _sqlite_problem(path: Path) -> str | None:
    if not path.exists():
        return f"SQLite file not found: {path}"
    if not path.is_file():
        return f"not a file: {path}"
    try:
        with closing(sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)) as conn:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error as exc:
        return f"not a readable SQLite database ({exc}): {path}"
    return None

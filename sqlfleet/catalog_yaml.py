"""Reading the catalog's YAML with source positions, and turning mistakes into located problems.

Model-agnostic: ``sqlfleet.catalog`` owns the models and the rules; this module knows where each
value sits in the file (``yaml.compose`` marks) and how to phrase a problem as
``<origin>:<line>: <path>: <message>``.
"""

from __future__ import annotations

import difflib
import typing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath

import yaml
from pydantic import BaseModel, ValidationError

Loc = tuple[str | int, ...]


class YamlSyntaxError(Exception):
    """The text is not YAML; ``line`` is 1-based."""

    def __init__(self, line: int, message: str) -> None:
        self.line = line
        self.message = message
        super().__init__(f"line {line}: {message}")


@dataclass
class Document:
    """A parsed YAML document plus the line of every key and list item, and problems found so far."""

    origin: str
    data: object
    lines: dict[Loc, int]
    problems: list[tuple[int, str]] = field(default_factory=list)

    def line(self, loc: Sequence[str | int]) -> int:
        """Line of the deepest part of ``loc`` present in the file (1 for the document itself)."""
        for end in range(len(loc), 0, -1):
            found = self.lines.get(tuple(loc[:end]))
            if found is not None:
                return found
        return 1

    def label(self, loc: Sequence[str | int]) -> str:
        """Readable path: ``databases[2] (sales_eu).schemas.include[0]``."""
        text, node = "", self.data
        for part in loc:
            if isinstance(part, int):
                text += f"[{part}]"
                node = node[part] if isinstance(node, list) and 0 <= part < len(node) else None
                name = _item_name(node)
                if name is not None:
                    text += f" ({name})"
            else:
                text += f".{part}" if text else str(part)
                node = node.get(part) if isinstance(node, dict) else None
        return text or "(top level)"

    def add(self, loc: Sequence[str | int], message: str, *, line: int | None = None) -> None:
        """Record one problem at ``loc`` (reported at ``line`` when given, else at ``loc``'s line)."""
        at = self.line(loc) if line is None else line
        self.problems.append((at, f"{self.origin}:{at}: {self.label(loc)}: {message}"))

    def sorted_problems(self) -> list[str]:
        """Problems in file order (stable for problems on the same line), without repeats."""
        seen: dict[str, None] = {}
        for _, text in sorted(self.problems, key=lambda item: item[0]):
            seen.setdefault(text, None)
        return list(seen)

    def add_validation_errors(self, exc: ValidationError, prefix: Loc, model: type[BaseModel]) -> None:
        """Translate a pydantic error of ``model`` validated from the value at ``prefix``."""
        for err in exc.errors():
            loc = self._path_in_data(prefix, err["loc"])
            kind = err["type"]
            if kind == "missing":
                message = "missing required key"
            elif kind == "extra_forbidden":
                key = str(err["loc"][-1])
                message = unknown_key(key, allowed_keys(model, err["loc"][:-1]))
            elif kind == "value_error":
                message = str(err.get("ctx", {}).get("error", err["msg"]))
            else:
                # YAML users write lists; pydantic speaks of the tuples they become
                message = err["msg"].replace("a valid tuple", "a list")
                message += f" (got {_short(err['input'])})"
            self.add(loc, message)

    def _path_in_data(self, prefix: Loc, err_loc: Sequence[str | int]) -> Loc:
        """Keep the part of a pydantic ``loc`` that names places in the file (drops union tags)."""
        node = self.data
        for part in prefix:
            node = _step(node, part)
        path = list(prefix)
        for part in err_loc:
            if isinstance(node, dict) and isinstance(part, str):
                path.append(part)
                if part not in node:
                    break
            elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                path.append(part)
            else:
                break
            node = _step(node, part)
        return tuple(path)


def read_document(text: str, origin: str) -> Document:
    """Parse one YAML document (safe loader), recording each key's and item's line.

    Duplicate keys, which YAML resolves silently (the later wins), are recorded as problems.
    Raises ``YamlSyntaxError`` when the text is not YAML.
    """
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        lines: dict[Loc, int] = {}
        duplicates: list[tuple[Loc, str, int]] = []
        if node is not None:
            _index(loader, node, (), lines=lines, duplicates=duplicates, active=set())
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        context = str(exc.context or "")
        if context and exc.context_mark is not None and exc.context_mark.line + 1 != line:
            context += f" (line {exc.context_mark.line + 1})"
        detail = ": ".join(p for p in (context, str(exc.problem or "")) if p)
        raise YamlSyntaxError(line, detail or str(exc)) from exc
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(1, str(exc)) from exc
    finally:
        loader.dispose()
    doc = Document(origin=origin, data=data, lines=lines)
    for loc, key, line in duplicates:
        doc.add(loc, f"duplicate key {key!r} (YAML keeps only the last one)", line=line)
    return doc


def allowed_keys(model: type[BaseModel], loc: Sequence[str | int]) -> list[str]:
    """Field names of the model found by following ``loc`` (field names and indexes) from ``model``."""
    current: type[BaseModel] | None = model
    for part in loc:
        if isinstance(part, int) or current is None:
            continue
        info = current.model_fields.get(part)
        current = _model_in(info.annotation) if info is not None else None
    return list(current.model_fields) if current is not None else []


def dump_yaml(value: object) -> str:
    """Block-style YAML of plain data (tuples become lists), keys in the order given."""
    return yaml.safe_dump(_plain(value), sort_keys=False, default_flow_style=False, allow_unicode=True)


def _index(
    loader: yaml.SafeLoader,
    node: yaml.Node,
    loc: Loc,
    *,
    lines: dict[Loc, int],
    duplicates: list[tuple[Loc, str, int]],
    active: set[int],
) -> None:
    if id(node) in active:  # a recursive alias (&a [*a])
        return
    active.add(id(node))
    if isinstance(node, yaml.MappingNode):
        seen: set[object] = set()
        for key_node, value_node in node.value:
            if key_node.tag.endswith(":merge"):
                continue
            key = _key(loader, key_node)
            if not isinstance(key, str | int):
                continue
            child = (*loc, key)
            if key in seen:
                duplicates.append((child, str(key), key_node.start_mark.line + 1))
            else:
                lines[child] = key_node.start_mark.line + 1
            seen.add(key)
            _index(loader, value_node, child, lines=lines, duplicates=duplicates, active=active)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[(*loc, i)] = item.start_mark.line + 1
            _index(loader, item, (*loc, i), lines=lines, duplicates=duplicates, active=active)
    active.discard(id(node))


def _key(loader: yaml.SafeLoader, node: yaml.Node) -> object:
    if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:str":
        return node.value
    try:
        return loader.construct_object(node, deep=True)
    except yaml.YAMLError:
        return None


def _step(node: object, part: str | int) -> object:
    if isinstance(node, dict):
        return node.get(part)
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return None


def _item_name(node: object) -> str | None:
    if isinstance(node, dict):
        for key in ("name", "table"):
            if isinstance(node.get(key), str):
                return str(node[key])
    return None


def _model_in(annotation: object) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def unknown_key(key: object, choices: Iterable[str]) -> str:
    """``unknown key 'enbled' (did you mean 'enabled'?)``."""
    close = difflib.get_close_matches(str(key), list(choices), n=1)
    return f"unknown key {key!r}" + (f" (did you mean {close[0]!r}?)" if close else "")


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _plain(value: object) -> object:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, PurePath):
        return value.as_posix()
    return value

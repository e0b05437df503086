"""Recording and printing benchmark figures, shared by every ``bench`` module.

A figure is one measured value compared with a baseline measured in the same run (the machine is
shared and noisy, so only ratios mean anything). Figures are merged into ``bench/results.json``
(git-ignored) under their names, so each benchmark module can run alone and update only its own.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

#: Where ``record`` merges figures by default.
RESULTS_PATH = Path(__file__).resolve().parent / "results.json"


@dataclass(frozen=True)
class Figure:
    """One benchmark figure: ``value`` against ``baseline`` (same run), their ``ratio`` and a target.

    ``target`` is a human-readable goal such as ``"≤ 1.5"``, or ``"report"`` for a figure that is
    informational only; ``passed`` is ``None`` for such figures.
    """

    value: float
    unit: str
    baseline: float | None
    ratio: float | None
    target: str
    passed: bool | None

    def to_json(self) -> dict[str, Any]:
        """The figure as the JSON object stored in the results file."""
        return asdict(self)


def load_results(path: Path = RESULTS_PATH) -> dict[str, Any]:
    """The figures recorded so far, by name; an absent or unreadable file counts as empty."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        print(f"warning: ignoring unreadable {path}: {exc}", file=sys.stderr)
        return {}
    if not isinstance(data, dict):
        print(f"warning: ignoring {path}: not a JSON object", file=sys.stderr)
        return {}
    return data


def record(figures: Mapping[str, Figure], path: Path = RESULTS_PATH) -> None:
    """Merge ``figures`` into the results file (creating it), replacing figures of the same name.

    The file is rewritten through a temporary file and a rename, so an interrupted run never
    leaves half a file behind.
    """
    data = load_results(path)
    data.update({name: figure.to_json() for name, figure in figures.items()})
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.1f}"
    return f"{value:.3g}" if abs(value) < 1 else f"{value:.2f}"


def _verdict(passed: bool | None) -> str:
    return "-" if passed is None else ("PASS" if passed else "FAIL")


def format_table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    """A plain-text table with left-aligned columns, a header and a rule under it."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    lines = [
        "  ".join(str(cell).ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip() for line in [header, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def print_table(figures: Mapping[str, Figure], title: str | None = None) -> None:
    """Print the figures as a table: name, value, baseline, ratio, target and verdict."""
    header = ("figure", "value", "baseline", "ratio", "unit", "target", "passed")
    rows = [
        (name, _number(f.value), _number(f.baseline), _number(f.ratio), f.unit, f.target, _verdict(f.passed))
        for name, f in figures.items()
    ]
    if title:
        print(f"\n{title}")
    print(format_table(rows, header))


__all__ = ["RESULTS_PATH", "Figure", "format_table", "load_results", "print_table", "record"]

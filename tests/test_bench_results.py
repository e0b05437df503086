"""``bench.results``: figures are merged into the results file, never timed here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.results import Figure, load_results, print_table, record


def _figure(value: float, passed: bool | None = True) -> Figure:
    return Figure(value=value, unit="rows/s", baseline=2.0, ratio=value / 2.0, target="≤ 1.5", passed=passed)


def test_record_creates_the_file_with_every_field(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "results.json"

    record({"a_figure": _figure(3.0)}, path=path)

    assert json.loads(path.read_text(encoding="utf-8")) == {
        "a_figure": {"value": 3.0, "unit": "rows/s", "baseline": 2.0, "ratio": 1.5, "target": "≤ 1.5", "passed": True},
    }
    assert [p.name for p in path.parent.iterdir()] == ["results.json"]  # no temporary file left


def test_record_merges_keeping_other_figures_and_replacing_same_names(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"other_module": {"value": 1, "passed": None}}), encoding="utf-8")

    record({"mine": _figure(1.0), "replaced": _figure(1.0)}, path=path)
    record({"replaced": _figure(4.0, passed=False)}, path=path)

    data = load_results(path)
    assert set(data) == {"other_module", "mine", "replaced"}
    assert data["other_module"] == {"value": 1, "passed": None}
    assert data["mine"]["value"] == 1.0
    assert data["replaced"]["value"] == 4.0 and data["replaced"]["passed"] is False


@pytest.mark.parametrize("content", ["{not json", "[1, 2]"])
def test_an_unreadable_results_file_is_replaced(tmp_path: Path, content: str) -> None:
    path = tmp_path / "results.json"
    path.write_text(content, encoding="utf-8")

    record({"x": _figure(2.0, passed=None)}, path=path)

    assert set(load_results(path)) == {"x"}


def test_print_table_lists_each_figure(capsys: pytest.CaptureFixture[str]) -> None:
    print_table({"fast_one": _figure(1_234_567.0), "informational": _figure(0.5, passed=None)}, title="T")

    out = capsys.readouterr().out
    assert "T" in out and "fast_one" in out and "1,234,567" in out and "PASS" in out
    assert out.splitlines()[-1].split()[-1] == "-"

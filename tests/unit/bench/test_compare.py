"""bench.compare: a run's figures beside the reference's, with regressions named."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench.compare import compare, main, table, worse_by


def figure(figure_id: str, value: float, op: str = "", limit: float | None = None) -> dict[str, Any]:
    """A figure as the harness writes it."""
    met = None
    if op == "<=" and limit is not None:
        met = value <= limit
    elif op == ">=" and limit is not None:
        met = value >= limit
    target = f"{op} {limit:g}" if op and limit is not None else ""
    return {
        "id": figure_id,
        "value": value,
        "unit": "x",
        "op": op,
        "limit": limit,
        "target": target,
        "met": met,
    }


def results(tmp_path: Path, name: str, *figures: dict[str, Any]) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps({"figures": list(figures)}), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("op", "reference", "run", "expected"),
    [("<=", 1.0, 1.25, 0.25), ("<=", 1.0, 0.8, -0.2), (">=", 2.0, 1.0, 0.5), (">=", 2.0, 3.0, -0.5)],
)
def test_worse_by_follows_the_direction_of_the_target(
    op: str, reference: float, run: float, expected: float
) -> None:
    assert worse_by(op, reference, run) == pytest.approx(expected)


def test_a_move_within_tolerance_is_noise_and_beyond_it_a_regression() -> None:
    reference = {"A": figure("A", 1.0, "<=", 1.3), "B": figure("B", 100, ">=", 50)}
    run = {"A": figure("A", 1.15, "<=", 1.3), "B": figure("B", 70, ">=", 50)}
    rows = {row.id: row for row in compare(reference, run, tolerance=0.2)}
    assert not rows["A"].regressed  # 15 % worse: noise
    assert rows["B"].regressed  # 30 % fewer where more is better


def test_an_unmet_target_is_a_regression_even_when_it_barely_moved() -> None:
    rows = compare({"A": figure("A", 1.29, "<=", 1.3)}, {"A": figure("A", 1.31, "<=", 1.3)}, tolerance=0.2)
    assert [row.regressed for row in rows] == [True]


def test_figures_without_targets_never_regress_and_missing_ones_are_listed() -> None:
    rows = compare({"S": figure("S", 1.0), "gone": figure("gone", 2.0)}, {"S": figure("S", 9.0)}, 0.2)
    assert [(row.id, row.regressed, row.run) for row in rows] == [("S", False, 9.0), ("gone", False, None)]
    text = table(rows)
    assert "| S | x |  | 1 | 9 | +800% |  |" in text
    assert "| gone | x |  | 2 | n/a |  |  |" in text


def test_main_exits_one_on_a_regression_and_zero_otherwise(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reference = results(tmp_path, "ref.json", figure("B3.floor", 1.0, ">=", 0.9))
    worse = results(tmp_path, "worse.json", figure("B3.floor", 0.7, ">=", 0.9))
    same = results(tmp_path, "same.json", figure("B3.floor", 0.95, ">=", 0.9))
    assert main([str(reference), str(worse)]) == 1
    assert "B3.floor" in capsys.readouterr().err
    assert main([str(reference), str(same)]) == 0
    assert "| B3.floor | x | >= 0.9 | 1 | 0.95 | -5% | met |" in capsys.readouterr().out

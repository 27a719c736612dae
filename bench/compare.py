"""``python -m bench.compare REFERENCE RUN``: each figure of a run beside the reference run's.

A figure with a target is a *regression* when it moved the wrong way by more than the tolerance
(relative to the reference), or when it no longer meets its target. Figures without a target are
printed for context only. The exit status is 1 when any targeted figure regressed, so a rerun after a
change can be held to the reference without reading the table.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Single full runs on a shared 2-core machine move by about ±20 % (README, Performance).
DEFAULT_TOLERANCE = 0.2


@dataclass(frozen=True)
class Row:
    """One figure in both runs."""

    id: str
    unit: str
    target: str
    reference: float | None
    run: float | None
    met: bool | None
    regressed: bool


def load_figures(path: Path) -> dict[str, dict[str, Any]]:
    """The figures of one results file, by id."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return {figure["id"]: figure for figure in data["figures"]}


def worse_by(op: str, reference: float, run: float) -> float:
    """How far ``run`` moved in the wrong direction for target ``op``, relative to ``reference``."""
    if reference == 0:
        return 0.0
    change = (run - reference) / abs(reference)
    # "<=" / "<" targets want small values, so growth is the bad direction; ">=" / ">" the opposite.
    return change if op.startswith("<") else -change


def compare(
    reference: dict[str, dict[str, Any]], run: dict[str, dict[str, Any]], tolerance: float
) -> list[Row]:
    """One row per figure id found in either run, in the run's order, then the reference's leftovers."""
    ids = list(run) + [figure_id for figure_id in reference if figure_id not in run]
    rows = []
    for figure_id in ids:
        old, new = reference.get(figure_id), run.get(figure_id)
        source = new or old or {}
        op = str(source.get("op") or "")
        old_value = None if old is None else float(old["value"])
        new_value = None if new is None else float(new["value"])
        met = None if new is None else new.get("met")
        regressed = bool(
            op
            and new is not None
            and (
                met is False
                or (old_value is not None and worse_by(op, old_value, float(new_value or 0)) > tolerance)
            )
        )
        rows.append(
            Row(figure_id, str(source.get("unit", "")), str(source.get("target", "")), old_value,
                new_value, met, regressed)
        )  # fmt: skip
    return rows


def _cell(value: float | None) -> str:
    return "n/a" if value is None else f"{value:g}"


def table(rows: Sequence[Row]) -> str:
    """The rows as a Markdown table."""
    lines = [
        "| id | unit | target | reference | this run | change | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        change = ""
        if row.reference not in (None, 0) and row.run is not None:
            change = f"{(row.run - row.reference) / abs(row.reference):+.0%}"
        verdict = (
            "regressed" if row.regressed else ("met" if row.met else ("" if row.met is None else "unmet"))
        )
        lines.append(
            f"| {row.id} | {row.unit} | {row.target} | {_cell(row.reference)} | {_cell(row.run)} | "
            f"{change} | {verdict} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the comparison; 1 when a targeted figure regressed."""
    parser = argparse.ArgumentParser(prog="python -m bench.compare", description=__doc__)
    parser.add_argument("reference", type=Path, help="results JSON to compare against")
    parser.add_argument("run", type=Path, help="results JSON of the new run")
    parser.add_argument(
        "--tolerance",
        type=float,
        default=DEFAULT_TOLERANCE,
        help="relative move in the wrong direction still taken as noise (default %(default)s)",
    )
    args = parser.parse_args(argv)
    rows = compare(load_figures(args.reference), load_figures(args.run), args.tolerance)
    print(table(rows))
    regressed = [row.id for row in rows if row.regressed]
    if regressed:
        print(
            f"regressed beyond {args.tolerance:.0%} or below target: {', '.join(regressed)}", file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

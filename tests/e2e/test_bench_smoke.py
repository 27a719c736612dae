"""The benchmark harness at its smallest size: every figure present and numeric (timings not judged)."""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from bench.harness import FIGURE_IDS
from tests.support.paths import ROOT

REPO = ROOT


@pytest.mark.slow
def test_small_run_reports_every_figure_with_a_number(tmp_path: Path) -> None:
    output = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--size", "small", "--output", str(output)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(output.read_text())
    values = {figure["id"]: figure["value"] for figure in report["figures"]}
    assert sorted(values) == sorted(FIGURE_IDS)
    for figure_id, value in values.items():
        assert isinstance(value, int | float) and not isinstance(value, bool), figure_id
        assert math.isfinite(value), figure_id
    assert set(report["scenarios"]) == {"B1", "B2", "B3", "B4", "B5", "B6"}
    b6 = report["scenarios"]["B6"]["points"]
    assert set(b6) == {"100k", "300k", "1m"}
    for point in b6.values():
        assert point["rows"]["total"] > 0 and set(point["stages"]["concurrency_1"]["share_percent"]) == {
            "fetch_wait",
            "decode",
            "fold",
            "snapshot",
            "render",
            "publish",
        }
    plot = output.with_suffix(".png")
    if importlib.util.find_spec("matplotlib") is not None:  # the bench extra, not the test extra
        assert plot.read_bytes().startswith(b"\x89PNG")
    else:
        assert "matplotlib is not installed" in done.stderr
    assert report["machine"]["cores"] >= 1
    for figure_id in FIGURE_IDS:
        assert figure_id in done.stdout, f"{figure_id} missing from the printed table"


def test_the_script_form_runs_too() -> None:
    done = subprocess.run(
        [sys.executable, "bench/run.py", "--help"], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and "--size" in done.stdout

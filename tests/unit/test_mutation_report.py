"""The report of the on-demand mutation run: survivors are matched by function and mutated line."""

from __future__ import annotations

from tests.unit.mutation import (
    EXPLAINED,
    function_of,
    module_of,
    mutated_lines,
    parse_results,
    summary,
    unexplained,
)

RESULTS = """
    exporter.incidents.fold.xǁRowAccumulatorǁadd_rows__mutmut_1: killed
    exporter.incidents.fold.xǁRowAccumulatorǁadd_rows__mutmut_2: survived
    exporter.incidents.snapshot.x_build_histogram__mutmut_5: survived
    exporter.incidents.snapshot.x_build_histogram__mutmut_6: timeout
    exporter.incidents.timestamps.x_report_day__mutmut_7: no tests
"""
SHOW = """# exporter.incidents.snapshot.x_build_histogram__mutmut_5: survived
--- exporter/incidents/snapshot.py
+++ exporter/incidents/snapshot.py
@@ -1,3 +1,3 @@
     total = 0.0
-    counts = [0] * (len(bounds) + 1)
+    counts   = [0] * (len(bounds) + 2)
"""
EXPLANATIONS = """# Survivors

### exporter.incidents.snapshot.build_histogram

- `counts = [0] * (len(bounds)
  + 2)` (5): equivalent.

### exporter.incidents.fold.RowAccumulator.add_rows

- `day = None`: equivalent.
"""


def test_results_are_read_by_mutant_name() -> None:
    results = parse_results(RESULTS)
    assert results["exporter.incidents.fold.xǁRowAccumulatorǁadd_rows__mutmut_2"] == "survived"
    assert results["exporter.incidents.timestamps.x_report_day__mutmut_7"] == "no tests"
    assert len(results) == 5


def test_a_mutant_name_gives_its_module_and_function() -> None:
    method = "exporter.incidents.fold.xǁRowAccumulatorǁadd_rows__mutmut_40"
    assert (module_of(method), function_of(method)) == (
        "exporter.incidents.fold",
        "exporter.incidents.fold.RowAccumulator.add_rows",
    )
    function = "exporter.incidents.timestamps.x_parse_timestamp__mutmut_4"
    assert (module_of(function), function_of(function)) == (
        "exporter.incidents.timestamps",
        "exporter.incidents.timestamps.parse_timestamp",
    )


def test_only_the_added_lines_of_a_mutant_are_kept() -> None:
    assert mutated_lines(SHOW) == ["counts = [0] * (len(bounds) + 2)"]


def test_a_survivor_is_explained_only_by_its_own_function_section() -> None:
    line = ["counts = [0] * (len(bounds) + 2)"]
    survivors = {
        "exporter.incidents.snapshot.x_build_histogram__mutmut_5": line,
        "exporter.incidents.snapshot.x_build_snapshot__mutmut_9": line,  # same line, another function
        "exporter.incidents.fold.xǁRowAccumulatorǁadd_rows__mutmut_40": ["day = None"],
        "exporter.incidents.fold.xǁRowAccumulatorǁadd_rows__mutmut_41": ["day = 1"],
        "exporter.incidents.fold.xǁRowAccumulatorǁadd_rows__mutmut_42": [],  # its diff could not be read
    }
    assert unexplained(survivors, EXPLANATIONS) == [
        "exporter.incidents.fold.xǁRowAccumulatorǁadd_rows__mutmut_41",
        "exporter.incidents.fold.xǁRowAccumulatorǁadd_rows__mutmut_42",
        "exporter.incidents.snapshot.x_build_snapshot__mutmut_9",
    ]


def test_timeouts_count_as_killed_and_untested_mutants_do_not() -> None:
    detected, total, lines = summary(parse_results(RESULTS))
    assert (detected, total) == (2, 5)
    assert lines[0].startswith("exporter.incidents.fold: 1/2 killed")


def test_the_explanations_file_exists_with_a_section_per_function() -> None:
    text = EXPLAINED.read_text(encoding="utf-8")
    assert "### exporter.incidents.fold.RowAccumulator.add_rows" in text
    assert "### exporter.incidents.snapshot.build_snapshot" in text

"""The row fold: which rows count, which are skipped and why, and which row of an incident is kept."""

from __future__ import annotations

from typing import Any

import pytest

from exporter.incidents.domain import SKIP_REASONS
from exporter.incidents.fold import (
    MAX_UNUSABLE_SHARE,
    UNKNOWN_DATASET,
    UNUSABLE_REASONS,
    IncidentRow,
    mostly_unusable,
    resolved_accumulator,
    unresolved_accumulator,
    unusable_rows,
)
from tests.support.rows import CREATED, LATEST, fold, full_row, incident_row, resolved_row

# The reasons that leave a row partly counted (README, "Unusable fields"), as opposed to UNUSABLE_REASONS.
PARTIAL_REASONS = ("missing_dataset_id", "bad_created_at", "bad_resolved_at", "bad_status")


def test_the_skip_reasons_are_the_documented_ones() -> None:
    assert set(SKIP_REASONS) == set(UNUSABLE_REASONS) | set(PARTIAL_REASONS)
    assert set(UNUSABLE_REASONS) == {"not_an_object", "missing_incident_id", "bad_report_date"}
    assert UNKNOWN_DATASET == "unknown"
    assert MAX_UNUSABLE_SHARE == 0.5


def test_unusable_rows_sums_only_the_reasons_that_leave_a_row_out_of_every_count() -> None:
    skipped = {reason: n for n, reason in enumerate(SKIP_REASONS, start=1)}
    assert unusable_rows(skipped) == sum(skipped[r] for r in UNUSABLE_REASONS)
    assert unusable_rows({reason: 5 for reason in PARTIAL_REASONS}) == 0
    assert unusable_rows({"bad_report_date": 2}) == 2  # absent reasons count as 0
    assert unusable_rows({}) == 0


@pytest.mark.parametrize(
    ("bad", "distinct", "fails"),
    [(0, 0, False), (5, 10, False), (6, 10, True), (1, 3, False), (2, 3, True), (1, 1, True), (0, 1, False)],
)
def test_mostly_unusable_means_strictly_more_than_half(bad: int, distinct: int, fails: bool) -> None:
    assert mostly_unusable({"missing_incident_id": bad}, distinct) is fails
    # The partly-counted reasons never make a query fail.
    assert mostly_unusable({"missing_dataset_id": distinct, "bad_created_at": distinct}, distinct) is False


def test_an_accumulator_judges_its_own_share_of_unusable_rows() -> None:
    good = [incident_row(f"ok{n}") for n in range(3)]
    half = fold(unresolved_accumulator(), good, [incident_row(f"bad{n}", "never") for n in range(3)])
    assert (half.distinct_rows, half.unusable_rows, half.mostly_unusable()) == (6, 3, False)
    more = fold(unresolved_accumulator(), good, [incident_row(f"bad{n}", "never") for n in range(4)])
    assert (more.distinct_rows, more.unusable_rows, more.mostly_unusable()) == (7, 4, True)
    # A missing dataset id is a label problem, not an unusable row.
    labels = fold(unresolved_accumulator(), [incident_row(f"x{n}", dataset=None) for n in range(3)])
    assert (labels.unusable_rows, labels.mostly_unusable()) == (0, False)


@pytest.mark.parametrize(("good", "bad", "fails"), [(2, 2, False), (1, 2, True), (0, 1, True), (1, 0, False)])
def test_the_unusable_threshold_is_more_than_half_of_the_rows(good: int, bad: int, fails: bool) -> None:
    rows = [incident_row(f"ok{n}", "2026-11-30") for n in range(good)]
    rows += [incident_row(f"bad{n}", "30/11/2026") for n in range(bad)]
    acc = fold(unresolved_accumulator(), rows)
    assert acc.unusable_rows == bad
    assert acc.mostly_unusable() is fails


def test_every_non_object_is_counted_and_the_rows_after_it_still_fold() -> None:
    acc = fold(unresolved_accumulator(), ["text", incident_row("a"), None, 42, incident_row("b")])
    assert acc.skipped["not_an_object"] == 3
    assert set(acc.newest) == {"a", "b"}
    # A non-object has no key to deduplicate it by: each counts as a distinct row.
    assert acc.distinct_rows == 5
    assert acc.unusable_rows == 3


@pytest.mark.parametrize("incident_id", [None, "", 42, ["a"]])
def test_a_row_without_a_usable_incident_id_is_skipped(incident_id: Any) -> None:
    rows = [incident_row("a"), incident_row(incident_id, "2026-11-19"), incident_row(incident_id, LATEST)]
    acc = fold(unresolved_accumulator(), rows, [incident_row("b")])
    assert acc.skipped == {"missing_incident_id": 2}
    assert set(acc.newest) == {"a", "b"}
    assert acc.distinct_rows == 4


@pytest.mark.parametrize(
    "report_date",
    [None, "", "20-11-2026", "2026-13-01", "2026-11-20X10:00", 20261120, ["2026-11-20"], {"d": 1}],
)
def test_a_row_without_a_usable_report_date_is_skipped(report_date: Any) -> None:
    rows = [incident_row("bad1", report_date), incident_row("a"), incident_row("bad2", report_date)]
    acc = fold(unresolved_accumulator(), rows, [incident_row("bad3", report_date), incident_row("b")])
    assert acc.skipped == {"bad_report_date": 3}  # the same bad date is judged bad every time
    assert set(acc.newest) == {"a", "b"}
    assert acc.max_report_date == LATEST
    assert acc.distinct_rows == 5


def test_a_skipped_row_served_again_on_another_page_is_counted_once() -> None:
    no_id = incident_row(None)
    bad_date = incident_row("d", "yesterday")
    acc = fold(unresolved_accumulator(), [no_id, bad_date], [no_id, bad_date], [incident_row("a")])
    assert acc.skipped == {"missing_incident_id": 1, "bad_report_date": 1}
    assert acc.distinct_rows == 3


def test_a_date_time_report_date_counts_as_its_day() -> None:
    acc = fold(
        unresolved_accumulator(),
        [incident_row("a", "2026-11-19T00:00:00"), incident_row("b", "2026-11-20 23:59:59Z")],
        [incident_row("c", "2026-11-20T10:00:00+02:00")],
    )
    assert acc.skipped == {}
    assert {i: r.report_date for i, r in acc.newest.items()} == {
        "a": "2026-11-19",
        "b": LATEST,
        "c": LATEST,  # the date as written, not moved to UTC: a report date names a day
    }
    assert acc.max_report_date == LATEST


def test_the_newest_report_date_is_kept_per_incident_across_pages_in_any_order() -> None:
    days = ("2026-11-17", "2026-11-18", "2026-11-19", "2026-11-20")
    rows = [incident_row("a", day, status=f"status {day}", severity=f"sev {day}") for day in days]
    for order in (rows, rows[::-1], [rows[2], rows[0], rows[3], rows[1]]):
        acc = fold(unresolved_accumulator(), order[:2], order[2:])
        kept = acc.newest["a"]
        assert (kept.report_date, kept.status, kept.severity) == (
            LATEST,
            "status 2026-11-20",
            "sev 2026-11-20",
        )
        assert acc.max_report_date == LATEST
        assert acc.distinct_rows == 4


def test_the_latest_report_date_covers_every_usable_row_and_every_page() -> None:
    acc = fold(unresolved_accumulator(), [incident_row("a", "2026-11-18")])
    assert acc.max_report_date == "2026-11-18"
    # b's older row does not replace its newer one, but the page's newest date still counts.
    fold(acc, [incident_row("b", "2026-11-19"), incident_row("b", "2026-11-17")])
    assert acc.max_report_date == "2026-11-19"
    fold(
        acc,
        [incident_row("c", "2026-11-16"), incident_row("b", "2026-11-20"), incident_row("b", "2026-11-15")],
    )
    assert acc.max_report_date == LATEST
    fold(acc, [incident_row("x", "2026-12-01", incident_id=None), incident_row("y", "2026-12-31X")])
    assert acc.max_report_date == LATEST  # skipped rows say nothing about the data's date
    assert fold(unresolved_accumulator(), []).max_report_date == ""


def test_repeated_rows_count_once_whether_or_not_they_carry_the_row_id() -> None:
    with_id = [incident_row("a", "2026-11-19"), incident_row("a"), incident_row("b")]
    without_id = [{k: v for k, v in r.items() if k != "incident_id_report_date_id"} for r in with_id]
    for rows in (with_id, without_id):
        acc = fold(unresolved_accumulator(), rows, rows[::-1], rows[:1])
        assert acc.distinct_rows == 3
        assert acc.skipped == {}
        assert acc.newest["a"].report_date == LATEST


def test_a_repeat_inside_a_page_does_not_stop_the_rows_after_it() -> None:
    first = incident_row("a")
    acc = fold(unresolved_accumulator(), [first, first, incident_row("b"), first, incident_row("c")])
    assert set(acc.newest) == {"a", "b", "c"}
    assert acc.distinct_rows == 3


def test_a_second_row_for_the_same_incident_and_report_date_changes_nothing() -> None:
    # incident_id_report_date_id identifies the (incident, report date) pair, so whatever row id a
    # second copy of the pair carries, the row read first stands.
    first = incident_row("a", status="fixing", severity="minor", incident_id_report_date_id="row-1")
    for again in (
        incident_row("a", status="reported", severity="critical", incident_id_report_date_id="row-2"),
        incident_row("a", status="reported", severity="critical"),
        incident_row("a", status="reported", severity="critical", incident_id_report_date_id="row-1"),
    ):
        for pages in ([[first, again]], [[first], [again]]):
            acc = fold(unresolved_accumulator(), *pages)
            assert (acc.newest["a"].status, acc.newest["a"].severity) == ("fixing", "minor")


@pytest.mark.parametrize("dataset", [None, "", 7, ["ds-a"]])
def test_a_row_without_a_usable_dataset_id_is_counted_under_unknown(dataset: Any) -> None:
    rows = [incident_row("a", dataset=dataset), incident_row("b"), incident_row("c", dataset=dataset)]
    acc = fold(unresolved_accumulator(), rows, rows)  # the repeated page changes nothing
    assert acc.skipped == {"missing_dataset_id": 2}
    assert acc.unusable_rows == 0
    assert {i: r.dataset_id for i, r in acc.newest.items()} == {"a": "unknown", "b": "ds-a", "c": "unknown"}
    assert acc.datasets == {"ds-a", "unknown"}
    assert acc.distinct_rows == 3


def test_the_labels_seen_are_collected_from_every_usable_row() -> None:
    acc = fold(
        unresolved_accumulator(),
        [
            incident_row("a", "2026-11-19", dataset="ds-old", severity="Minor", status="fixing"),
            incident_row("a", dataset="ds-a", severity="major", status="reported"),
            incident_row("b", dataset="ds-b", severity=None, status="On Hold"),
            incident_row(None, dataset="ds-skipped", severity="skipped", status="skipped"),
        ],
    )
    assert acc.datasets == {"ds-old", "ds-a", "ds-b"}
    assert acc.severities == {"Minor", "major", None}
    assert acc.statuses == {"fixing", "reported", "On Hold"}


@pytest.mark.parametrize("value", [["major"], {"name": "major"}])
def test_a_list_or_object_severity_or_status_reads_as_missing(value: Any) -> None:
    acc = fold(
        unresolved_accumulator(),
        [incident_row("a", severity=value), incident_row("b", status=value), incident_row("c")],
    )
    assert (acc.newest["a"].severity, acc.newest["a"].status) == (None, "reported")
    assert (acc.newest["b"].severity, acc.newest["b"].status) == ("major", None)
    assert acc.severities == {None, "major"}
    assert acc.statuses == {"reported", None}
    assert acc.skipped == {}


def test_the_unresolved_sink_keeps_every_field_of_the_newest_row() -> None:
    acc = fold(
        unresolved_accumulator(),
        [
            incident_row(
                "a", "2026-11-19", title="old", check_name="old check", lead_email="old@example.com"
            ),
            full_row("a", resolved="2026-11-02T00:00:00Z"),
            incident_row("b", dataset="ds-y", severity="minor", status="reported", created="2026-11-05"),
        ],
    )
    assert acc.newest["a"] == IncidentRow(
        LATEST,
        "ds-z",
        "Critical",
        "Fixing",
        "2026-11-19T12:00:00+01:00",
        "2026-11-02T00:00:00Z",
        "Row count dropped",
        "row_count > 0",
        "lead@example.com",
    )
    assert acc.newest["b"] == IncidentRow(
        LATEST, "ds-y", "minor", "reported", "2026-11-05", None, "title b", "check b", "lead-b@example.com"
    )


def test_details_that_are_not_text_are_kept_as_sent() -> None:
    odd: dict[str, Any] = {"title": 5, "check_name": ["c"], "lead_email": {"email": "x@example.com"}}
    acc = fold(unresolved_accumulator(), [incident_row("a", **odd), incident_row("b", **odd)])
    for incident in ("a", "b"):
        kept = acc.newest[incident]
        assert (kept.title, kept.check_name, kept.lead_email) == (5, ["c"], {"email": "x@example.com"})


def test_missing_details_are_kept_as_missing() -> None:
    bare = {"incident_id": "a", "report_date": LATEST}
    acc = fold(unresolved_accumulator(), [bare])
    assert acc.newest["a"] == IncidentRow(LATEST, "unknown", None, None, None, None, None, None, None)


def test_the_resolved_sink_keeps_only_what_resolution_metrics_need() -> None:
    acc = fold(resolved_accumulator(), [resolved_row("r", created=CREATED, dataset="ds-r", severity="minor")])
    assert acc.newest["r"] == IncidentRow(
        LATEST, "ds-r", "minor", "resolved", CREATED, "2026-11-19T08:00:00Z", None, None, None
    )


@pytest.mark.parametrize("row_id", [["a", "list"], {"an": "object"}, 42, None])
def test_a_row_id_of_any_json_type_never_breaks_the_fold(row_id: Any) -> None:
    # A page with an unusable row is folded row by row: a row id that is not a string must neither
    # raise (which would fail the whole cycle as an internal error) nor lose the row.
    page = [
        incident_row("inc-1", incident_id_report_date_id=row_id),
        incident_row(None, incident_id_report_date_id=row_id),
    ]
    acc = fold(unresolved_accumulator(), page)
    assert set(acc.newest) == {"inc-1"}
    assert acc.skipped["missing_incident_id"] == 1

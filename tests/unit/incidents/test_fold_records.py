"""Pages decoded into records fold exactly as the same pages of row dicts do."""

from __future__ import annotations

from typing import Any

import pytest

from exporter.incidents.fold import (
    IncidentRow,
    RowAccumulator,
    resolved_accumulator,
    unresolved_accumulator,
)
from tests.support.rows import LATEST, as_record, incident_row, resolved_row

EARLIER = "2026-11-19"


def _both(new: Any, *pages: list[dict[str, Any]]) -> tuple[RowAccumulator, RowAccumulator]:
    """(the pages folded as dicts, the same pages folded as records) into fresh accumulators."""
    as_rows, as_records = new(), new()
    for page in pages:
        as_rows.add_rows(page)
        as_records.add_records([as_record(row, as_records.row_fields) for row in page])
    return as_rows, as_records


def _same(as_rows: RowAccumulator, as_records: RowAccumulator) -> None:
    assert as_records.newest == as_rows.newest
    assert as_records.skipped == as_rows.skipped
    assert as_records.distinct_rows == as_rows.distinct_rows
    assert (as_records.datasets, as_records.severities, as_records.statuses) == (
        as_rows.datasets,
        as_rows.severities,
        as_rows.statuses,
    )
    assert as_records.max_report_date == as_rows.max_report_date


def test_the_fields_a_record_holds_are_the_ones_the_fold_reads() -> None:
    identity = ("incident_id_report_date_id", "incident_id", "report_date")
    assert unresolved_accumulator().row_fields == (
        *identity,
        *("dataset_id", "severity", "status", "created_at", "resolved_at"),
        *("title", "check_name", "lead_email"),
    )
    assert resolved_accumulator().row_fields == (
        *identity,
        *("dataset_id", "severity", "status", "created_at", "resolved_at"),
    )


def test_a_usable_page_of_records_keeps_each_incidents_newest_row() -> None:
    pages = [
        [incident_row("a", LATEST, status="fixing"), incident_row("b", EARLIER)],
        [incident_row("a", EARLIER), incident_row("b", LATEST, lead_email=None), incident_row("a", LATEST)],
    ]
    as_rows, as_records = _both(unresolved_accumulator, *pages)
    _same(as_rows, as_records)
    created = "2026-11-10T08:00:00Z"
    details = ("title a", "check a", "lead-a@example.com")
    assert as_records.newest["a"] == IncidentRow(LATEST, "ds-a", "major", "fixing", created, None, *details)
    assert as_records.newest["b"].lead_email is None
    assert as_records.distinct_rows == 4


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (incident_row(None), "missing_incident_id"),
        (incident_row(""), "missing_incident_id"),
        (incident_row(7), "missing_incident_id"),
        (incident_row("x", "not a date"), "bad_report_date"),
        (incident_row("x", None), "bad_report_date"),
        (incident_row("x", ["2026-11-20"]), "bad_report_date"),
        (incident_row("x", dataset=None), "missing_dataset_id"),
        (incident_row("x", dataset=""), "missing_dataset_id"),
        (incident_row("x", severity={"level": 1}, status=["open"]), None),  # labels read as missing
    ],
)
def test_an_unusable_record_sends_its_page_row_by_row(bad: dict[str, Any], reason: str | None) -> None:
    page = [incident_row("a"), bad, incident_row("b", EARLIER), dict(bad)]
    as_rows, as_records = _both(unresolved_accumulator, page, [incident_row("b"), bad])
    _same(as_rows, as_records)
    assert as_records.skipped == ({reason: 1} if reason else {})
    assert set(as_records.newest) >= {"a", "b"}


def test_resolved_records_keep_only_what_resolution_metrics_need() -> None:
    page = [resolved_row("r1"), resolved_row("r2", EARLIER, dataset=None), resolved_row("r1", EARLIER)]
    as_rows, as_records = _both(resolved_accumulator, page)
    _same(as_rows, as_records)
    assert as_records.newest["r1"] == IncidentRow(
        LATEST, "ds-a", "major", "resolved", "2026-11-10T08:00:00Z", "2026-11-19T08:00:00Z"
    )
    assert as_records.skipped["missing_dataset_id"] == 1


@pytest.mark.parametrize("records", [False, True])
def test_pages_folded_after_the_newest_rows_were_read_count_as_if_read_before(records: bool) -> None:
    first = [incident_row("a", EARLIER), incident_row("b", EARLIER)]
    later = [incident_row("a", LATEST, status="fixing"), incident_row("b", EARLIER), incident_row("c")]
    at_once, in_turn = _both(unresolved_accumulator, first, later)[int(records)], unresolved_accumulator()
    for page in (first, later):
        if records:
            in_turn.add_records([as_record(row, in_turn.row_fields) for row in page])
        else:
            in_turn.add_rows(page)
        assert in_turn.newest  # read between the pages, as a skipped cycle's snapshot would
    _same(at_once, in_turn)
    assert in_turn.distinct_rows == 4 and in_turn.newest["a"].status == "fixing"


def test_a_date_time_report_date_is_the_same_row_as_its_date() -> None:
    acc = unresolved_accumulator()
    acc.add_rows([incident_row("a", LATEST), incident_row("b", EARLIER)])
    acc.add_rows([incident_row("a", f"{LATEST}T00:00:00"), incident_row("b", f"{LATEST}T00:00:00Z")])
    assert acc.distinct_rows == 3
    assert acc.newest["b"].report_date == LATEST == acc.max_report_date

"""Pure snapshot semantics, from hand-written Reporting API rows to what /metrics shows."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from exporter.incidents.fold import unresolved_accumulator
from exporter.incidents.snapshot import Snapshot, build_histogram, normalize
from tests.support.rows import incident_row, snapshot_of

# The one row builder of the pure tests (tests/support/rows.py), under the names these tests use.
row = incident_row


def open_count(snap: Snapshot, dataset: str, severity: str, status: str) -> int:
    """Value of soda_incidents_open for one label set (KeyError when the series is absent)."""
    return snap.open_counts[(dataset, severity, status)]


def test_open_means_unresolved_row_at_latest_report_date() -> None:
    snap = snapshot_of(
        [
            row("a", "2026-11-18"),
            row("a", "2026-11-19"),
            row("a", "2026-11-20"),
            row("b", "2026-11-18"),
            row("b", "2026-11-19"),  # resolved or gone on the 20th
        ]
    )
    assert snap.open_total == 1
    assert [inc.incident_id for inc in snap.incidents] == ["a"]
    assert snap.latest_report_date is not None
    assert snap.latest_report_date.isoformat() == "2026-11-20"


def test_status_and_severity_come_from_the_latest_row() -> None:
    snap = snapshot_of(
        [
            row("a", "2026-11-19", severity="minor", status="reported"),
            row("a", "2026-11-20", severity="Critical", status="Investigating"),
        ]
    )
    assert open_count(snap, "ds-a", "critical", "investigating") == 1
    assert open_count(snap, "ds-a", "minor", "reported") == 0


def test_incident_resolved_on_latest_date_is_not_open_even_when_no_unresolved_row_is_that_new() -> None:
    snap = snapshot_of(
        [row("a", "2026-11-19")],
        [row("a", "2026-11-20", status="resolved", resolved="2026-11-20T09:00:00Z")],
    )
    assert snap.open_total == 0
    assert open_count(snap, "ds-a", "major", "reported") == 0  # zero, not absent
    assert snap.resolved_counts[("ds-a", "major")] == 1


def test_zero_fill_covers_every_dataset_severity_and_open_status() -> None:
    snap = snapshot_of([row("a", "2026-11-20", dataset="ds-a"), row("b", "2026-11-20", dataset="ds-b")])
    expected = {
        (d, s, st)
        for d in ("ds-a", "ds-b")
        for s in ("minor", "major", "critical")
        for st in ("reported", "investigating", "fixing")
    }
    assert set(snap.open_counts) == expected
    assert sum(snap.open_counts.values()) == 2


def test_unknown_values_are_kept_and_empty_becomes_unknown() -> None:
    snap = snapshot_of(
        [
            row("a", "2026-11-20", severity="Blocker", status="On Hold"),
            row("b", "2026-11-20", severity="", status=None),
        ]
    )
    assert open_count(snap, "ds-a", "blocker", "on hold") == 1
    assert open_count(snap, "ds-a", "unknown", "unknown") == 1
    assert open_count(snap, "ds-a", "blocker", "reported") == 0  # the new values join the zero-fill
    assert normalize("  MAJOR ") == "major"


def test_resolved_are_deduplicated_keeping_the_newest_row_and_windowed() -> None:
    resolved = [
        row("r1", "2026-11-18", status="resolved", severity="minor", resolved="2026-11-18T10:00:00Z"),
        row("r1", "2026-11-19", status="resolved", severity="major", resolved="2026-11-18T10:00:00Z"),
        row(
            "old",
            "2026-11-19",
            status="resolved",
            created="2026-09-01T00:00:00Z",
            resolved="2026-09-02T00:00:00Z",
        ),
    ]
    snap = snapshot_of([row("a", "2026-11-20")], resolved, resolved_window_seconds=30 * 86400)
    assert snap.resolved_counts[("ds-a", "major")] == 1
    assert snap.resolved_counts[("ds-a", "minor")] == 0
    assert snap.resolved_total == 1
    duration = snap.resolution_duration["major"]
    assert duration.count == 1
    assert duration.sum == pytest.approx(
        (
            datetime(2026, 11, 18, 10, tzinfo=timezone.utc) - datetime(2026, 11, 10, 8, tzinfo=timezone.utc)
        ).total_seconds()
    )


def test_reopened_incident_counts_as_open_not_resolved() -> None:
    snap = snapshot_of(
        [row("a", "2026-11-20")],
        [row("a", "2026-11-19", status="resolved", resolved="2026-11-19T10:00:00Z")],
    )
    assert snap.open_total == 1
    assert snap.resolved_total == 0


def test_age_histogram_buckets_are_cumulative() -> None:
    snap = snapshot_of(
        [
            row("young", "2026-11-20", severity="critical", created="2026-11-20T11:30:00Z"),  # 30 min
            row("day", "2026-11-20", severity="critical", created="2026-11-19T06:00:00+00:00"),  # 30 h
            row(
                "naive", "2026-11-20", severity="critical", created="2026-11-20T10:00:00"
            ),  # naive = UTC, 2 h
        ]
    )
    hist = dict(snap.open_age["critical"].buckets)
    assert hist[3600.0] == 1
    assert hist[21600.0] == 2
    assert hist[86400.0] == 2
    assert hist[172800.0] == 3
    assert hist[float("inf")] == 3
    assert snap.open_age["critical"].sum == pytest.approx(1800 + 30 * 3600 + 7200)
    assert snap.open_age["minor"].count == 0  # zero-filled severities


def test_non_utc_offsets_are_converted() -> None:
    snap = snapshot_of([row("a", "2026-11-20", created="2026-11-20T13:00:00+02:00")])  # 11:00 UTC
    assert snap.incidents[0].created_at == datetime(2026, 11, 20, 11, tzinfo=timezone.utc).timestamp()


def test_info_is_newest_first_and_capped() -> None:
    rows = [row(f"i{n}", "2026-11-20", created=f"2026-11-{n + 1:02d}T00:00:00Z") for n in range(5)]
    snap = snapshot_of(rows, info_limit=3)
    assert [inc.incident_id for inc in snap.incidents] == ["i4", "i3", "i2"]
    assert snap.info_truncated == 2
    assert snapshot_of(rows, info_limit=0).incidents == ()


def test_unusable_rows_are_skipped_and_counted() -> None:
    snap = snapshot_of(
        [
            row("ok", "2026-11-20"),
            row("", "2026-11-20"),
            row("bad-date", "20-11-2026"),
            row("no-dataset", "2026-11-20", dataset=None),
            row("no-created", "2026-11-20", created=None),
            "not an object",
        ]
    )
    # Only the rows without an incident id or usable report date, and the non-objects, leave the counts.
    assert snap.open_total == 3
    assert snap.skipped == {
        "missing_incident_id": 1,
        "bad_report_date": 1,
        "missing_dataset_id": 1,
        "bad_created_at": 1,
        "not_an_object": 1,
    }


def test_duplicate_rows_count_once() -> None:
    acc = unresolved_accumulator()
    acc.add_rows([row("a", "2026-11-20"), row("b", "2026-11-20")])
    acc.add_rows([row("a", "2026-11-20")])
    assert acc.distinct_rows == 2


def test_build_histogram_puts_boundary_values_in_their_bucket() -> None:
    hist = build_histogram([3600.0, 3600.5], [3600.0, 7200.0])
    assert hist.buckets == ((3600.0, 1), (7200.0, 2), (float("inf"), 2))


def test_an_unusable_created_at_keeps_the_incident_open_but_out_of_the_age_metrics() -> None:
    snap = snapshot_of(
        [
            row("dated", "2026-11-20", severity="critical"),
            row("undated", "2026-11-19", created="not-a-timestamp", severity="critical"),
            row("undated", "2026-11-20", created="not-a-timestamp", severity="critical"),
        ]
    )
    assert snap.open_total == 2
    assert open_count(snap, "ds-a", "critical", "reported") == 2
    assert snap.open_age["critical"].count == 1  # the histogram counts only the dated incident
    assert snap.skipped == {"bad_created_at": 1}  # counted once per incident, not once per row
    shown = {inc.incident_id: inc.created_at for inc in snap.incidents}
    assert shown == {"dated": datetime(2026, 11, 10, 8, tzinfo=timezone.utc).timestamp(), "undated": None}
    assert [inc.incident_id for inc in snap.incidents] == ["dated", "undated"]  # undated ranks last


def test_an_unusable_created_at_keeps_a_resolved_incident_counted_without_a_duration() -> None:
    resolved = [row("r", "2026-11-20", status="resolved", created="garbage", resolved="2026-11-19T08:00:00Z")]
    snap = snapshot_of([row("a", "2026-11-20")], resolved)
    assert snap.resolved_total == 1
    assert snap.resolution_duration["major"].count == 0
    assert snap.skipped == {"bad_created_at": 1}


@pytest.mark.parametrize("dataset", [None, "", 42])
def test_a_row_without_a_dataset_id_counts_under_the_unknown_dataset(dataset: Any) -> None:
    snap = snapshot_of([row("a", "2026-11-20"), row("b", "2026-11-20", dataset=dataset)])
    assert snap.open_total == 2
    assert open_count(snap, "unknown", "major", "reported") == 1
    assert open_count(snap, "unknown", "critical", "fixing") == 0  # zero-filled like any dataset
    assert snap.skipped == {"missing_dataset_id": 1}
    assert {inc.dataset_id for inc in snap.incidents} == {"ds-a", "unknown"}


def test_a_resolved_status_in_the_unresolved_query_is_not_open() -> None:
    snap = snapshot_of([row("a", "2026-11-20"), row("b", "2026-11-20", status="Resolved")])
    assert snap.open_total == 1
    assert snap.skipped == {"bad_status": 1}
    assert not any(status == "resolved" for (_, _, status) in snap.open_counts)


@pytest.mark.parametrize("value", [["major"], {"name": "major"}, 3, None])
def test_a_severity_or_status_that_is_not_text_is_kept_as_unknown_or_its_text(value: Any) -> None:
    snap = snapshot_of([row("a", "2026-11-20", severity=value, status=value)])
    assert snap.open_total == 1
    expected = "unknown" if value is None or isinstance(value, (list, dict)) else str(value)
    assert snap.open_states == {"a": (expected, expected)}

"""The snapshot: open at the latest report date, resolved in the window, zero-filled, with histograms."""

from __future__ import annotations

import time
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest

from exporter.incidents.domain import OPEN_STATUSES, SEVERITIES
from exporter.incidents.fold import resolved_accumulator, unresolved_accumulator
from exporter.incidents.snapshot import (
    DEFAULT_AGE_BUCKETS,
    BucketCounts,
    OpenIncident,
    PollData,
    Snapshot,
    SnapshotSettings,
    build_histogram,
    build_snapshot,
    midnight_utc,
    normalize,
    zero_filled,
)
from tests.support.rows import (
    CREATED,
    CREATED_TS,
    LATEST,
    NOW,
    fold,
    full_row,
    incident_row,
    resolved_row,
    snapshot_of,
)

INF = float("inf")
DAY = 86400.0


def ts(text: str) -> float:
    """Unix time of an ISO timestamp written with its offset."""
    return datetime.fromisoformat(text).timestamp()


def open_ids(snap: Snapshot) -> set[str]:
    """The incidents the snapshot counts as open."""
    return set(snap.open_states)


def nonzero(counts: Any) -> dict[Any, int]:
    """The series of a zero-filled family that are not 0."""
    return {key: value for key, value in counts.items() if value}


# --- labels ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("major", "major"),
        ("  Critical\n", "critical"),
        ("On Hold", "on hold"),
        ("", "unknown"),
        ("   ", "unknown"),
        (None, "unknown"),
        (["major"], "unknown"),
        ({"name": "major"}, "unknown"),
        (3, "3"),
        (False, "false"),
    ],
)
def test_normalize_lower_cases_and_reads_missing_as_unknown(value: Any, expected: str) -> None:
    assert normalize(value) == expected


def test_the_known_label_values() -> None:
    assert SEVERITIES == ("minor", "major", "critical")
    assert OPEN_STATUSES == ("reported", "investigating", "fixing")


# --- histograms -----------------------------------------------------------------------------------


def test_a_histogram_is_cumulative_with_values_on_a_bound_in_that_bucket() -> None:
    hist = build_histogram([0.0, 10.0, 10.5, 20.0, 99.0, 20.0], [10.0, 20.0, 50.0])
    assert hist.buckets == ((10.0, 2), (20.0, 5), (50.0, 5), (INF, 6))
    assert hist.sum == pytest.approx(159.5)
    assert hist.count == 6


def test_an_empty_histogram_has_every_bucket_at_zero() -> None:
    hist = build_histogram([], [1.0, 2.0])
    assert hist.buckets == ((1.0, 0), (2.0, 0), (INF, 0))
    assert (hist.sum, hist.count) == (0.0, 0)
    assert build_histogram([5.0], []).buckets == ((INF, 1),)


def test_a_histogram_without_buckets_counts_nothing() -> None:
    assert BucketCounts((), 0.0).count == 0
    assert BucketCounts(((1.0, 2), (INF, 3)), 4.0).count == 3


def test_the_default_age_buckets_run_from_an_hour_to_a_year() -> None:
    assert DEFAULT_AGE_BUCKETS[0] == 3600.0
    assert DEFAULT_AGE_BUCKETS[-1] == 365 * DAY
    assert list(DEFAULT_AGE_BUCKETS) == sorted(set(DEFAULT_AGE_BUCKETS))
    assert len(DEFAULT_AGE_BUCKETS) == 12
    assert all(isinstance(bound, float) for bound in DEFAULT_AGE_BUCKETS)


# --- zero-fill ------------------------------------------------------------------------------------


def test_zero_filled_covers_every_dataset_severity_and_open_status() -> None:
    open_counts, resolved_counts, severities = zero_filled(["ds-a", "ds-b", "ds-a"], [], [])
    assert severities == set(SEVERITIES)
    assert open_counts == {
        (d, s, st): 0 for d in ("ds-a", "ds-b") for s in SEVERITIES for st in OPEN_STATUSES
    }
    assert resolved_counts == {(d, s): 0 for d in ("ds-a", "ds-b") for s in SEVERITIES}


def test_zero_filled_adds_the_values_seen_but_never_a_resolved_open_status() -> None:
    open_counts, resolved_counts, severities = zero_filled(
        ["ds"], ["blocker", "major"], ["on hold", "resolved", "fixing"]
    )
    assert severities == {"minor", "major", "critical", "blocker"}
    assert {st for _, _, st in open_counts} == {"reported", "investigating", "fixing", "on hold"}
    assert len(open_counts) == 4 * 4
    assert set(resolved_counts) == {("ds", s) for s in severities}
    assert set(open_counts.values()) == set(resolved_counts.values()) == {0}


def test_zero_filled_series_come_in_sorted_order() -> None:
    open_counts, resolved_counts, _ = zero_filled(["ds-b", "ds-c", "ds-a"], ["blocker"], ["on hold"])
    assert list(open_counts) == sorted(open_counts) and len(open_counts) == 3 * 4 * 4
    assert list(resolved_counts) == sorted(resolved_counts) and len(resolved_counts) == 3 * 4


def test_zero_filled_without_datasets_has_no_series_but_every_severity() -> None:
    open_counts, resolved_counts, severities = zero_filled([], ["x"], ["y"])
    assert (open_counts, resolved_counts) == ({}, {})
    assert severities == {"minor", "major", "critical", "x"}


# --- open incidents -------------------------------------------------------------------------------


def test_open_means_an_unresolved_row_at_the_latest_report_date() -> None:
    snap = snapshot_of(
        [
            incident_row("a", "2026-11-18"),
            incident_row("a", LATEST),
            incident_row("gone", "2026-11-19"),  # resolved or gone on the latest date
            incident_row("b", LATEST),
        ]
    )
    assert open_ids(snap) == {"a", "b"}
    assert snap.open_total == 2
    assert snap.latest_report_date == date(2026, 11, 20)
    assert nonzero(snap.open_counts) == {("ds-a", "major", "reported"): 2}


def test_the_latest_report_date_is_taken_over_both_queries() -> None:
    # Every incident was resolved on the newest date: nothing older counts as open.
    snap = snapshot_of([incident_row("a", "2026-11-19")], [resolved_row("a", LATEST)])
    assert snap.open_total == 0
    assert snap.latest_report_date == date(2026, 11, 20)
    assert snap.resolved_total == 1
    # The resolved query's dates only ever move the line forward.
    snap = snapshot_of([incident_row("a", LATEST)], [resolved_row("r", "2026-11-19")])
    assert (snap.open_total, snap.resolved_total) == (1, 1)


def test_no_rows_at_all_is_an_empty_snapshot() -> None:
    snap = snapshot_of()
    assert (snap.open_total, snap.resolved_total, snap.info_truncated) == (0, 0, 0)
    assert snap.latest_report_date is None
    assert (snap.open_counts, snap.resolved_counts, snap.incidents, snap.skipped) == ({}, {}, (), {})
    assert set(snap.open_age) == set(snap.resolution_duration) == set(SEVERITIES)
    assert snap.generated_at == NOW.timestamp()


def test_status_and_severity_come_from_the_newest_row_normalized() -> None:
    snap = snapshot_of(
        [
            incident_row("a", "2026-11-19", severity="minor", status="reported"),
            incident_row("a", LATEST, severity="Critical", status=" Investigating "),
            incident_row("b", LATEST, severity="Blocker", status="On Hold", dataset="ds-b"),
        ]
    )
    assert snap.open_states == {"a": ("critical", "investigating"), "b": ("blocker", "on hold")}
    assert nonzero(snap.open_counts) == {
        ("ds-a", "critical", "investigating"): 1,
        ("ds-b", "blocker", "on hold"): 1,
    }
    # Values outside the known sets join the zero-fill of every dataset.
    assert snap.open_counts[("ds-a", "blocker", "on hold")] == 0
    assert snap.open_counts[("ds-b", "minor", "reported")] == 0
    assert snap.open_counts[("ds-a", "minor", "on hold")] == 0
    assert ("ds-a", "minor", "resolved") not in snap.open_counts


def test_incidents_of_the_same_series_add_up() -> None:
    rows = [incident_row(f"i{n}", severity="critical", status="fixing") for n in range(3)]
    rows += [incident_row("j", severity="CRITICAL", status="Fixing"), incident_row("k", dataset="ds-b")]
    snap = snapshot_of(rows)
    assert nonzero(snap.open_counts) == {("ds-a", "critical", "fixing"): 4, ("ds-b", "major", "reported"): 1}
    assert snap.open_total == 5


def test_a_resolved_status_in_the_unresolved_query_is_skipped_not_open() -> None:
    snap = snapshot_of(
        [
            incident_row("a"),
            incident_row("b", status="Resolved"),
            incident_row("c", status="resolved "),
            incident_row("old", "2026-11-19", status="resolved"),  # not at the latest date: not judged
        ]
    )
    assert open_ids(snap) == {"a"}
    assert snap.skipped == {"bad_status": 2}
    assert {st for _, _, st in snap.open_counts} == set(OPEN_STATUSES)


def test_a_missing_or_non_text_severity_and_status_read_unknown() -> None:
    snap = snapshot_of(
        [
            incident_row("a", severity=None, status=""),
            incident_row("b", severity=["x"], status={"s": 1}),
            incident_row("c", severity="minor", status="fixing"),
        ]
    )
    assert snap.open_states == {
        "a": ("unknown", "unknown"),
        "b": ("unknown", "unknown"),
        "c": ("minor", "fixing"),
    }
    assert snap.open_counts[("ds-a", "unknown", "unknown")] == 2
    assert snap.open_counts[("ds-a", "unknown", "reported")] == 0
    assert snap.open_age["unknown"].count == 2


def test_a_row_without_a_dataset_id_is_open_under_unknown_zero_filled() -> None:
    snap = snapshot_of([incident_row("a"), incident_row("b", dataset="")])
    assert nonzero(snap.open_counts) == {
        ("ds-a", "major", "reported"): 1,
        ("unknown", "major", "reported"): 1,
    }
    assert snap.open_counts[("unknown", "critical", "fixing")] == 0
    assert snap.skipped == {"missing_dataset_id": 1}


def test_unusable_rows_are_left_out_and_counted_by_reason_over_both_queries() -> None:
    snap = snapshot_of(
        ["text", incident_row("a"), incident_row(None), incident_row("b", "soon")],
        [None, resolved_row("r"), resolved_row("", "2026-11-19"), resolved_row("s", "11/20/2026")],
    )
    assert open_ids(snap) == {"a"}
    assert snap.resolved_total == 1
    assert snap.skipped == {"not_an_object": 2, "missing_incident_id": 2, "bad_report_date": 2}


# --- ages and the incident info ------------------------------------------------------------------


def test_open_age_is_measured_from_created_at_to_now_per_severity() -> None:
    snap = snapshot_of(
        [
            incident_row("young", severity="critical", created="2026-11-20T11:30:00Z"),  # 30 min
            incident_row("day", severity="critical", created="2026-11-19T06:00:00+00:00"),  # 30 h
            incident_row("naive", severity="critical", created="2026-11-20T10:00:00"),  # naive is UTC: 2 h
            incident_row("tz", severity="minor", created="2026-11-20T13:00:00+02:00"),  # 11:00 UTC: 1 h
        ]
    )
    critical = dict(snap.open_age["critical"].buckets)
    assert (critical[3600.0], critical[21600.0], critical[86400.0], critical[172800.0], critical[INF]) == (
        1,
        2,
        2,
        3,
        3,
    )
    assert snap.open_age["critical"].sum == pytest.approx(1800 + 30 * 3600 + 7200)
    assert snap.open_age["minor"].sum == pytest.approx(3600)
    assert dict(snap.open_age["minor"].buckets)[3600.0] == 1  # exactly on a bound: in that bucket
    assert snap.open_age["major"].count == 0


def test_a_naive_created_at_is_utc_whatever_the_local_time_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        snap = snapshot_of([incident_row("naive", severity="minor", created="2026-11-20T10:00:00")])
    finally:
        monkeypatch.undo()
        time.tzset()
    assert snap.open_age["minor"].sum == pytest.approx(7200)
    assert snap.incidents[0].created_at == datetime(2026, 11, 20, 10, tzinfo=timezone.utc).timestamp()


def test_a_created_at_in_the_future_is_an_age_of_zero() -> None:
    snap = snapshot_of([incident_row("a", created="2026-11-20T13:00:00Z")])
    assert snap.open_age["major"].sum == 0.0
    assert snap.open_age["major"].buckets[0][1] == 1
    assert snap.incidents[0].created_at == ts("2026-11-20T13:00:00+00:00")


def test_the_age_buckets_come_from_the_settings() -> None:
    snap = snapshot_of(
        [incident_row("a", created="2026-11-20T11:00:00Z")], [resolved_row("r")], age_buckets=(60.0, 7200.0)
    )
    assert snap.open_age["major"].buckets == ((60.0, 0), (7200.0, 1), (INF, 1))
    assert [bound for bound, _ in snap.resolution_duration["major"].buckets] == [60.0, 7200.0, INF]


def test_an_unusable_created_at_keeps_the_incident_open_without_an_age() -> None:
    snap = snapshot_of(
        [
            incident_row("dated"),
            incident_row("undated", "2026-11-19", created="not-a-timestamp"),
            incident_row("undated", created="not-a-timestamp"),
            incident_row("missing", created=None),
            incident_row("number", created=1732096800),
        ]
    )
    assert open_ids(snap) == {"dated", "undated", "missing", "number"}
    assert snap.open_counts[("ds-a", "major", "reported")] == 4
    assert snap.open_age["major"].count == 1
    assert snap.skipped == {"bad_created_at": 3}  # once per incident, not once per row
    shown = {inc.incident_id: inc.created_at for inc in snap.incidents}
    assert shown == {"dated": CREATED_TS, "undated": None, "missing": None, "number": None}


def test_the_incident_info_shows_every_field_of_the_newest_row() -> None:
    snap = snapshot_of(
        [
            incident_row("a", "2026-11-19", title="old"),
            full_row("a"),
        ]
    )
    assert snap.incidents == (
        OpenIncident(
            incident_id="a",
            title="Row count dropped",
            dataset_id="ds-z",
            check_name="row_count > 0",
            severity="critical",
            status="fixing",
            lead_email="lead@example.com",
            created_at=ts("2026-11-19T11:00:00+00:00"),
        ),
    )


def test_missing_details_are_empty_labels_and_other_values_their_text() -> None:
    snap = snapshot_of(
        [
            incident_row("a", title=None, check_name=None, lead_email=None),
            incident_row("b", title=5, check_name=["c"], lead_email=""),
        ]
    )
    shown = {inc.incident_id: (inc.title, inc.check_name, inc.lead_email) for inc in snap.incidents}
    assert shown == {"a": ("", "", ""), "b": ("5", "['c']", "")}


def test_the_incident_info_is_newest_first_undated_last_and_capped() -> None:
    rows = [incident_row(f"i{n}", created=f"2026-11-{n + 1:02d}T00:00:00Z") for n in range(5)]
    rows += [incident_row("undated", created="?"), incident_row("also-undated", created="?")]
    rows += [
        incident_row("tie-b", created="2026-11-03T00:00:00Z"),
        incident_row("tie-a", created="2026-11-03T00:00:00Z"),
    ]
    everything = snapshot_of(rows)
    assert [inc.incident_id for inc in everything.incidents] == [
        "i4",
        "i3",
        "i2",
        "tie-a",  # same creation time: by incident id
        "tie-b",
        "i1",
        "i0",
        "also-undated",
        "undated",
    ]
    assert everything.info_truncated == 0
    capped = snapshot_of(rows, info_limit=3)
    assert [inc.incident_id for inc in capped.incidents] == ["i4", "i3", "i2"]
    assert (capped.info_truncated, capped.open_total, len(capped.open_states)) == (6, 9, 9)
    assert sum(capped.open_counts.values()) == 9  # the cap is on the info series only


@pytest.mark.parametrize("limit", [0, -1, -100])
def test_an_info_limit_of_zero_or_less_shows_no_incident(limit: int) -> None:
    snap = snapshot_of([incident_row("a"), incident_row("b")], info_limit=limit)
    assert snap.incidents == ()
    assert (snap.info_truncated, snap.open_total) == (2, 2)


def test_an_info_limit_above_the_open_count_truncates_nothing() -> None:
    snap = snapshot_of([incident_row("a"), incident_row("b")], info_limit=3)
    assert len(snap.incidents) == 2
    assert snap.info_truncated == 0


# --- resolved incidents ---------------------------------------------------------------------------


def test_resolved_incidents_are_deduplicated_keeping_the_newest_row() -> None:
    snap = snapshot_of(
        [incident_row("a")],
        [
            resolved_row("r1", "2026-11-18", severity="minor", resolved="2026-11-18T10:00:00Z"),
            resolved_row("r1", "2026-11-19", severity="major", resolved="2026-11-18T10:00:00Z"),
            resolved_row("r2", "2026-11-19", severity="major", dataset="ds-b"),
        ],
    )
    assert nonzero(snap.resolved_counts) == {("ds-a", "major"): 1, ("ds-b", "major"): 1}
    assert snap.resolved_total == 2
    assert set(snap.resolved_counts) == {(d, s) for d in ("ds-a", "ds-b") for s in SEVERITIES}


def test_resolved_are_counted_when_resolved_at_is_inside_the_window() -> None:
    window = 7 * DAY
    start = NOW - timedelta(seconds=window)
    snap = snapshot_of(
        [],
        [
            resolved_row("outside", resolved=(start - timedelta(seconds=1)).isoformat()),
            resolved_row("edge", resolved=start.isoformat()),  # the window includes its start
            resolved_row("ancient", created="2026-01-01T00:00:00Z", resolved="2026-01-02T00:00:00Z"),
            resolved_row("inside", resolved=(start + timedelta(seconds=1)).isoformat()),
        ],
        resolved_window_seconds=window,
    )
    assert snap.resolved_total == 2
    assert snap.resolution_duration["major"].count == 2
    assert snap.skipped == {}


def test_the_resolution_duration_runs_from_created_at_to_resolved_at() -> None:
    snap = snapshot_of(
        [],
        [
            resolved_row(
                "a", severity="critical", created="2026-11-19T08:00:00Z", resolved="2026-11-19T10:00:00Z"
            ),
            resolved_row(
                "b", severity="critical", created="2026-11-18T00:00:00Z", resolved="2026-11-19T03:00:00+03:00"
            ),
            resolved_row(
                "c", severity="minor", created="2026-11-19T10:00:00Z", resolved="2026-11-19T09:00:00Z"
            ),
        ],
    )
    critical = snap.resolution_duration["critical"]
    assert critical.sum == pytest.approx(2 * 3600 + DAY)
    assert dict(critical.buckets)[21600.0] == 1
    assert dict(critical.buckets)[86400.0] == 2  # exactly a day: on the bound
    assert snap.resolution_duration["minor"].sum == 0.0  # resolved before created: 0, not negative
    assert snap.resolution_duration["minor"].count == 1
    assert snap.resolution_duration["major"].count == 0
    assert nonzero(snap.resolved_counts) == {("ds-a", "critical"): 2, ("ds-a", "minor"): 1}


def test_a_reopened_incident_counts_as_open_not_resolved() -> None:
    snap = snapshot_of(
        [incident_row("a"), incident_row("b", "2026-11-18")],
        [resolved_row("a", "2026-11-19", created="bad"), resolved_row("b", "2026-11-19")],
    )
    assert open_ids(snap) == {"a"}
    assert snap.resolved_total == 1
    assert nonzero(snap.resolved_counts) == {("ds-a", "major"): 1}
    assert snap.skipped == {}  # the reopened incident's resolved row is not judged at all


def test_an_unusable_resolved_at_leaves_a_resolved_incident_out() -> None:
    snap = snapshot_of(
        [],
        [
            resolved_row("a", resolved=None),
            resolved_row("b", resolved="soon", created="also bad"),
            resolved_row("c"),
        ],
    )
    assert snap.resolved_total == 1
    assert snap.resolution_duration["major"].count == 1
    assert snap.skipped == {"bad_resolved_at": 2}  # b is not also judged on its created_at


def test_an_unusable_created_at_keeps_a_resolved_incident_counted_without_a_duration() -> None:
    snap = snapshot_of(
        [incident_row("open", created="bad")],
        [resolved_row("a", created="garbage"), resolved_row("b", created=None), resolved_row("c")],
    )
    assert snap.resolved_total == 3
    assert snap.resolution_duration["major"].count == 1
    assert snap.skipped == {"bad_created_at": 3}  # counted over both queries


def test_an_unusable_created_at_outside_the_window_is_still_counted_as_unusable() -> None:
    snap = snapshot_of([], [resolved_row("a", created="bad", resolved="2026-01-01T00:00:00Z")])
    assert snap.resolved_total == 0
    assert snap.skipped == {"bad_created_at": 1}


def test_resolved_severities_and_datasets_join_the_zero_fill() -> None:
    snap = snapshot_of(
        [incident_row("a")],
        [
            resolved_row("r", severity="Blocker", dataset="ds-r"),
            resolved_row("s", "2026-11-19", severity=None),
        ],
    )
    assert snap.open_counts[("ds-r", "blocker", "reported")] == 0
    assert snap.open_counts[("ds-a", "blocker", "fixing")] == 0
    assert nonzero(snap.resolved_counts) == {("ds-r", "blocker"): 1, ("ds-a", "unknown"): 1}
    assert set(snap.resolution_duration) == set(SEVERITIES) | {"blocker", "unknown"}
    assert set(snap.open_age) == set(snap.resolution_duration)
    # A resolved query's statuses are not open statuses.
    assert {st for _, _, st in snap.open_counts} == set(OPEN_STATUSES)


# --- the snapshot as a whole ----------------------------------------------------------------------


def test_the_snapshot_carries_the_cycle_facts() -> None:
    etl = datetime(2026, 11, 20, 3, 30, tzinfo=timezone.utc)
    later = NOW + timedelta(hours=1)
    snap = snapshot_of([incident_row("a", created="2026-11-20T12:00:00Z")], now=later, last_etl_refresh=etl)
    assert snap.generated_at == later.timestamp()
    assert snap.last_etl_refresh == etl
    assert snap.open_age["major"].sum == pytest.approx(3600)
    assert snapshot_of().last_etl_refresh is None


def test_the_accumulators_are_not_changed_by_building_a_snapshot() -> None:
    unresolved = fold(
        unresolved_accumulator(), [incident_row("a", created="bad"), incident_row("b", status="resolved")]
    )
    before = (dict(unresolved.newest), Counter(unresolved.skipped), unresolved.max_report_date)
    data = PollData(unresolved, fold(resolved_accumulator(), []))
    first = build_snapshot(data, NOW, SnapshotSettings())
    second = build_snapshot(data, NOW, SnapshotSettings())
    assert (dict(unresolved.newest), Counter(unresolved.skipped), unresolved.max_report_date) == before
    assert first == second


def test_default_settings() -> None:
    settings = SnapshotSettings()
    assert settings.resolved_window_seconds == 30 * DAY
    assert settings.age_buckets == DEFAULT_AGE_BUCKETS
    assert settings.info_limit == 500


def test_the_default_info_limit_caps_at_500() -> None:
    snap = snapshot_of([incident_row(f"i{n:03d}") for n in range(501)])
    assert (len(snap.incidents), snap.info_truncated) == (500, 1)


def test_the_default_resolved_window_is_30_days() -> None:
    start = NOW - timedelta(days=30)
    snap = snapshot_of(
        [],
        [
            resolved_row("in", resolved=start.isoformat(), created=CREATED),
            resolved_row("out", resolved=(start - timedelta(seconds=1)).isoformat()),
        ],
    )
    assert snap.resolved_total == 1


# --- small helpers --------------------------------------------------------------------------------


# POSIX zone strings: they need no tz database on the machine.
@pytest.mark.parametrize("zone", ["UTC0", "EST+05", "IST-05:30"])
def test_midnight_utc_is_the_start_of_the_day_whatever_the_local_zone(
    zone: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        assert midnight_utc(date(2026, 11, 20)) == ts("2026-11-20T00:00:00+00:00")
        assert midnight_utc(date(1970, 1, 2)) == DAY
    finally:
        monkeypatch.undo()
        time.tzset()

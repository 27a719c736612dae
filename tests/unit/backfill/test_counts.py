"""Backfill: per-date aggregation and OpenMetrics rendering on hand-written rows (the CLI: integration)."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime, timedelta, timezone
from typing import Any

from exporter.backfill.counts import (
    MAX_CHUNK_DAYS,
    DayAccumulator,
    DayCounts,
    build_days,
    date_chunks,
    end_of_day,
    render_openmetrics,
    request_window,
)
from exporter.incidents.snapshot import midnight_utc
from tests.support.backfill import WINDOW, parse

D1, D2 = date(2024, 5, 1), date(2024, 5, 2)


def row(incident: str, day: date, **fields: Any) -> dict[str, Any]:
    """One IncidentData row with sensible defaults."""
    base: dict[str, Any] = {
        "incident_id": incident,
        "report_date": day.isoformat(),
        "dataset_id": "ds-a",
        "severity": "major",
        "status": "reported",
        "created_at": "2024-04-20T10:00:00+00:00",
        "resolved_at": None,
    }
    return {**base, **fields}


def fold(resolved: bool, pages: Iterable[list[Any]], first: date = D1, last: date = D2) -> DayAccumulator:
    """Fold pages into a fresh accumulator."""
    sink = DayAccumulator(resolved=resolved, first=first, last=last, resolved_window_seconds=WINDOW)
    for page in pages:
        sink.add_rows(page)
    return sink


def days_of(unresolved: list[Any], resolved: list[Any]) -> dict[date, DayCounts]:
    """Zero-filled counts per date from one page of each query."""
    built = build_days(fold(False, [unresolved]).days, fold(True, [resolved]).days)
    return {counts.day: counts for counts in built}


def test_open_incidents_are_counted_per_date_and_zero_filled() -> None:
    unresolved = [
        row("i1", D1),
        row("i1", D2, status="investigating"),
        row("i2", D2, dataset_id="ds-b", severity="critical"),
    ]
    days = days_of(unresolved, [row("i3", D1, dataset_id="ds-c", status="resolved", resolved_at=None)])
    assert days[D1].open[("ds-a", "major", "reported")] == 1
    assert days[D2].open[("ds-a", "major", "investigating")] == 1
    assert days[D2].open[("ds-a", "major", "reported")] == 0  # moved on: zero, not gone
    assert days[D2].open[("ds-b", "critical", "reported")] == 1
    # Each date is filled over its own datasets x 3 severities x 3 open statuses, like a live snapshot.
    assert set(days[D1].open) == {
        (ds, sev, st)
        for ds in ("ds-a", "ds-c")
        for sev in ("minor", "major", "critical")
        for st in ("reported", "investigating", "fixing")
    }
    assert {key[0] for key in days[D2].open} == {"ds-a", "ds-b"}
    assert sum(days[D1].open.values()) == 1 and sum(days[D2].open.values()) == 2
    assert set(days[D2].resolved) == {
        (ds, sev) for ds in ("ds-a", "ds-b") for sev in ("minor", "major", "critical")
    }


def test_severity_and_status_are_normalized_and_extra_values_zero_filled() -> None:
    unresolved = [
        row("i1", D1, severity=" MAJOR ", status="Investigating"),
        row("i2", D1, severity=None, status="Triage"),
        row("i3", D1, dataset_id="ds-b", severity="", status=""),
    ]
    counts = days_of(unresolved, [])[D1].open
    assert counts[("ds-a", "major", "investigating")] == 1
    assert counts[("ds-a", "unknown", "triage")] == 1
    assert counts[("ds-b", "unknown", "unknown")] == 1
    assert counts[("ds-b", "critical", "triage")] == 0  # values seen on the date are zero-filled everywhere
    statuses = {key[2] for key in counts}
    assert statuses == {"reported", "investigating", "fixing", "triage", "unknown"}


def test_resolved_counts_use_the_window_before_the_end_of_each_date() -> None:
    boundary = end_of_day(D1) - WINDOW

    def stamp(ts: float) -> str:
        return datetime.fromtimestamp(ts, timezone.utc).isoformat()

    resolved = [
        row("in", D1, status="resolved", resolved_at=stamp(boundary)),
        row("out", D1, status="resolved", resolved_at=stamp(boundary - 1), severity="Minor"),
        # One day later the window has moved: the incident resolved exactly at D1's boundary drops out.
        row("in", D2, status="resolved", resolved_at=stamp(boundary)),
        row("late", D2, status="resolved", resolved_at=stamp(end_of_day(D2) - 60), dataset_id="ds-b"),
    ]
    days = days_of([], resolved)
    assert days[D1].resolved == {
        ("ds-a", "major"): 1,
        ("ds-a", "minor"): 0,
        ("ds-a", "critical"): 0,
    }
    assert days[D2].resolved[("ds-a", "major")] == 0
    assert days[D2].resolved[("ds-b", "major")] == 1
    assert days[D1].open == {(ds, sev, st): 0 for ds, sev, st in days[D1].open}  # zero-filled, all zero


def test_repeated_rows_outside_dates_and_unusable_rows() -> None:
    page = [row("i1", D1, incident_id_report_date_id="r1"), row("i2", D1)]
    sink = fold(
        False,
        [
            page,
            [*page, row("i9", D2 + timedelta(days=1))],  # served again, and a date outside the range
            ["junk", {"report_date": "2024-05-01"}, row("i3", D1, report_date="May 1")],
            [row("i4", D1, dataset_id=None), row("i5", D1, created_at="yesterday")],
        ],
    )
    # As in the live exporter: an unusable created_at still counts, a missing dataset_id counts under
    # "unknown"; only rows without an incident id or a usable report date are left out.
    assert sink.days[D1.isoformat()].open[("ds-a", "major", "reported")] == 3
    assert sink.days[D1.isoformat()].open[("unknown", "major", "reported")] == 1
    assert sink.outside_range == 1
    assert sink.skipped == Counter(
        not_an_object=1, missing_incident_id=1, bad_report_date=1, missing_dataset_id=1, bad_created_at=1
    )
    # Every row counts as seen once, as the client's drift check needs: 2 + 1 + 3 + 2.
    assert sink.distinct_rows == 8
    resolved = fold(True, [[row("r1", D1, status="resolved", resolved_at="soon")]])
    assert resolved.skipped == Counter(bad_resolved_at=1)
    assert not sink.mostly_unusable()  # 3 of 8 rows left out


def test_labels_follow_the_exporters_rules() -> None:
    sink = fold(False, [[row("i1", D1, status="Resolved"), row("i2", D1, severity=["x"], status={"a": 1})]])
    assert sink.skipped == Counter(bad_status=1)
    assert dict(sink.days[D1.isoformat()].open) == {("ds-a", "unknown", "unknown"): 1}


def test_a_date_time_report_date_counts_and_mostly_unusable_rows_are_detected() -> None:
    sink = fold(False, [[row("i1", D1, report_date=f"{D1.isoformat()}T00:00:00"), row("i2", D1)]])
    assert sink.days[D1.isoformat()].open[("ds-a", "major", "reported")] == 2
    assert not sink.mostly_unusable()
    sink = fold(False, [[row("i1", D1), row("i2", D1, report_date="?"), row("i3", D1, incident_id=None)]])
    assert sink.mostly_unusable()  # 2 of 3 rows left out


def test_rendering_orders_each_series_by_time_and_ends_with_eof() -> None:
    days = days_of([row("i1", D1), row("i1", D2, status="fixing")], [])
    text = "".join(render_openmetrics(list(days.values())[::-1], labels=[("organization", 'a "b"')]))
    assert text.endswith("\n# EOF\n") and text.count("# EOF") == 1
    assert text.index("# TYPE soda_incidents_open gauge") < text.index("# TYPE soda_incidents_resolved gauge")
    samples = parse(text)
    labels = (
        ("dataset_id", "ds-a"),
        ("organization", 'a "b"'),
        ("severity", "major"),
        ("status", "reported"),
    )
    assert samples[("soda_incidents_open", labels, midnight_utc(D1))] == 1
    assert samples[("soda_incidents_open", labels, midnight_utc(D2))] == 0
    # Each series' lines are contiguous and in timestamp order.
    seen: dict[str, list[int]] = {}
    order: list[str] = []
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        series, _, rest = line.rpartition("} ")
        seen.setdefault(series, []).append(int(rest.split()[1]))
        if not order or order[-1] != series:
            assert series not in order, f"{series} is split"
            order.append(series)
    assert all(stamps == sorted(stamps) and len(stamps) == 2 for stamps in seen.values())
    assert len(seen) == 9 + 3  # open: 3 severities x 3 statuses; resolved: 3 severities


def test_step_repeats_each_value_through_its_day_but_not_past_until() -> None:
    days = days_of([row("i1", D1), row("i1", D2)], [])
    until = midnight_utc(D2) + 3 * 3600
    text = "".join(render_openmetrics(list(days.values()), step_seconds=6 * 3600, until=until))
    stamps = sorted(
        ts
        for (name, labels, ts) in parse(text)
        if name == "soda_incidents_open"
        and ("status", "reported") in labels
        and ("severity", "major") in labels
    )
    start = midnight_utc(D1)
    assert stamps == [start + h * 3600 for h in (0, 6, 12, 18, 24)]
    assert "".join(render_openmetrics([])) == (
        "# HELP soda_incidents_open Open incidents by dataset, severity and status (zero-filled). "
        "Backfilled per report date.\n# TYPE soda_incidents_open gauge\n"
        "# HELP soda_incidents_resolved Incidents resolved inside the resolved window, by dataset and "
        "severity. Backfilled per report date.\n# TYPE soda_incidents_resolved gauge\n# EOF\n"
    )


def test_long_ranges_are_queried_in_chunks_of_at_most_31_dates() -> None:
    first, last = date(2024, 1, 1), date(2024, 3, 15)
    chunks = date_chunks(first, last)
    assert chunks[0][0] == first and chunks[-1][1] == last
    assert all((b - a).days + 1 <= MAX_CHUNK_DAYS for a, b in chunks)
    assert all(b + timedelta(days=1) == c for (_, b), (c, _) in itertools.pairwise(chunks))
    assert date_chunks(first, first) == [(first, first)]
    assert request_window(first, first) == (
        datetime(2024, 1, 1, tzinfo=timezone.utc),
        datetime(2024, 1, 1, 23, 59, 59, tzinfo=timezone.utc),
    )

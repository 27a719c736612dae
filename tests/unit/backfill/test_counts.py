"""Backfill: per-date aggregation and OpenMetrics rendering on hand-written rows; the CLI over HTTP."""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

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
from exporter.cli.entry import main as cli_main
from exporter.incidents.snapshot import midnight_utc
from exporter.simulator import SimulatorServer
from exporter.simulator.faults import FaultPlan
from tests.support.backfill import WINDOW, parse, run_cli, truth, values_at
from tests.support.builders import KEY_ID, KEY_SECRET, sim_env

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
    stamp = lambda ts: datetime.fromtimestamp(ts, timezone.utc).isoformat()  # noqa: E731
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
        "# HELP soda_incidents_open Open incidents by dataset, severity and status (zero-filled), "
        "backfilled per report date.\n# TYPE soda_incidents_open gauge\n"
        "# HELP soda_incidents_resolved Incidents resolved inside the resolved window, by dataset and "
        "severity, backfilled per report date.\n# TYPE soda_incidents_resolved gauge\n# EOF\n"
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


# --- the command against the simulator over HTTP ---------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2024-05-02", "--to", "2024-05-01"], "--from: 2024-05-02 is after --to 2024-05-01"),
        (["--from", "2024-5-1", "--to", "2024-05-01"], "--from: '2024-5-1' is not a date (use YYYY-MM-DD)"),
        (["--from", "2024-05-01", "--to", "2024-02-30"], "--to: '2024-02-30' is not a date"),
        (["--from", "2024-05-01", "--to", "2999-01-01"], "--to: 2999-01-01 is in the future"),
        (["--from", "2024-05-01", "--to", "2024-05-01", "--step", "2d"], "--step: '2d' must be between"),
        (["--from", "2024-05-01", "--to", "2024-05-01", "--label", "severity=x"], "--label: 'severity' is a"),
        (
            ["--from", "2024-05-01", "--to", "2024-05-01", "--label", "job"],
            "--label: 'job' is not NAME=VALUE",
        ),
        (
            ["--from", "2024-05-01", "--to", "2024-05-01", "--label", "job=a", "--label", "job=b"],
            "--label: 'job' is given twice (job=a, job=b); give each label once",
        ),
        (
            ["--from", "2024-05-01", "--to", "2024-05-01", "--poll.page-size", "5000"],
            "--poll.page-size: '5000'",
        ),
    ],
)
def test_invalid_arguments_are_one_line_and_exit_2(
    args: list[str],
    message: str,
    simulator: SimulatorServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run_cli([*args, "-o", str(tmp_path / "out.om")], sim_env(simulator))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "soda-incidents-exporter backfill: error: " in err and message in err
    assert not (tmp_path / "out.om").exists()


def test_missing_credentials_and_api_errors(
    simulator: SimulatorServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.om"
    env = sim_env(simulator)
    del env["SODA_API_KEY_SECRET"]
    with pytest.raises(SystemExit) as exit_info:
        run_cli(["--from", "2024-05-01", "--to", "2024-05-01", "-o", str(out)], env)
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1
    today = simulator.organization.now.date().isoformat()
    env = sim_env(simulator, SODA_API_KEY_SECRET="wrong")
    assert run_cli(["--from", today, "--to", today, "-o", str(out), "--soda.retries", "0"], env) == 1
    assert "error:" in capsys.readouterr().err
    assert not out.exists() and list(tmp_path.iterdir()) == []  # no half-written file left behind


def test_backfill_over_http_matches_the_simulators_truth(simulator: SimulatorServer, tmp_path: Path) -> None:
    org = simulator.organization
    today = org.now.date()
    first = today - timedelta(days=45)
    out = tmp_path / "history.om"
    argv = ["backfill", "--from", first.isoformat(), "--to", today.isoformat(), "-o", str(out)]
    env = sim_env(simulator, SODA_EXPORTER_POLL_PAGE_SIZE="100")
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        assert cli_main([*argv, "--soda.organization", "acme"]) == 0
    samples = parse(out.read_text())
    # Queried in windows of at most 31 report dates, both statuses, every page of 100 rows.
    bodies = [r.body for r in simulator.requests_log if r.path == "/v1/impact/incidents"]
    windows = {(b["status"], b["from_datetime"], b["to_datetime"]) for b in bodies}
    assert len(windows) == 4 and {b["size"] for b in bodies} == {100}
    spans = {datetime.fromisoformat(to) - datetime.fromisoformat(fr) for _, fr, to in windows}
    assert max(spans) < timedelta(days=MAX_CHUNK_DAYS)
    assert all(dict(labels)["organization"] == "acme" for _, labels, _ in samples)
    for day in (first, today - timedelta(days=20), today - timedelta(days=1)):
        got_open = values_at(samples, "soda_incidents_open", day, ("dataset_id", "severity", "status"))
        got_resolved = values_at(samples, "soda_incidents_resolved", day, ("dataset_id", "severity"))
        want_open, want_resolved = truth(org, day)
        assert {k: v for k, v in got_open.items() if v} == dict(want_open), day
        assert {k: v for k, v in got_resolved.items() if v} == dict(want_resolved), day
        assert sum(want_open.values()) > 0 and sum(want_resolved.values()) > 0
        assert 0 in got_open.values() and 0 in got_resolved.values()  # zero-filled


def test_stdout_output_and_extra_labels(
    simulator: SimulatorServer, capsys: pytest.CaptureFixture[str]
) -> None:
    day = (simulator.organization.now.date() - timedelta(days=3)).isoformat()
    argv = ["--from", day, "--to", day, "-o", "-", "--label", "job=soda", "--resolved.window", "7d"]
    assert run_cli(argv, sim_env(simulator)) == 0
    captured = capsys.readouterr()
    samples = parse(captured.out)
    assert samples and all(("job", "soda") in labels for _, labels, _ in samples)
    _, want_resolved = truth(simulator.organization, date.fromisoformat(day), 7 * 86400.0)
    got: Counter[tuple[str, str]] = Counter()
    for (name, labels, _), value in samples.items():
        if name == "soda_incidents_resolved":
            got[(dict(labels)["dataset_id"], dict(labels)["severity"])] += int(value)
    assert +got == want_resolved
    assert "wrote" in captured.err and KEY_SECRET not in captured.err and KEY_ID not in captured.err


@pytest.mark.parametrize("where", ["missing-directory/out.om", "a-directory"])
def test_an_unwritable_output_fails_before_anything_is_fetched(
    where: str, simulator: SimulatorServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a-directory").mkdir()
    out = tmp_path / where
    day = simulator.organization.now.date().isoformat()
    assert run_cli(["--from", day, "--to", day, "-o", str(out)], sim_env(simulator)) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"error: cannot write {out}: " in err
    assert [r.path for r in simulator.requests_log if r.path.startswith("/v1/impact")] == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-directory"]


def test_the_summary_reads_right_for_one_date_and_for_standard_output(
    simulator: SimulatorServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    day = (simulator.organization.now.date() - timedelta(days=1)).isoformat()
    assert run_cli(["--from", day, "--to", day, "-o", "-"], sim_env(simulator)) == 0
    summary = capsys.readouterr().err.splitlines()[-1]
    assert re.search(r"wrote \d+ samples of \d+ series for 1 report date to standard output in ", summary)
    out = tmp_path / "out.om"
    first = (simulator.organization.now.date() - timedelta(days=2)).isoformat()
    assert run_cli(["--from", first, "--to", day, "-o", str(out)], sim_env(simulator)) == 0
    assert f"for 2 report dates to {out} in " in capsys.readouterr().err.splitlines()[-1]


def test_standard_output_holds_only_openmetrics_whatever_is_logged() -> None:
    # A real process: its structlog set-up is the command's own, not the test session's.
    env = {k: v for k, v in os.environ.items() if not k.startswith("SODA_")}
    day = (datetime.now(timezone.utc).date() - timedelta(days=2)).isoformat()
    proc = subprocess.run(
        [sys.executable, "-m", "exporter.cli", "backfill", "--demo", "--from", day, "--to", day, "-o", "-"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.endswith("# EOF\n")
    assert parse(proc.stdout), "no samples"
    assert "soda request" not in proc.stdout + proc.stderr, "debug lines stay off by default"


def test_mostly_unusable_rows_write_nothing_and_exit_1(
    simulator: SimulatorServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rule = {"kind": "null_fields", "path": "/v1/impact/incidents", "fields": ["report_date"]}
    simulator.set_faults(FaultPlan.from_dict({"rules": [rule]}))
    out = tmp_path / "out.om"
    today = simulator.organization.now.date().isoformat()
    assert run_cli(["--from", today, "--to", today, "-o", str(out)], sim_env(simulator)) == 1
    assert "rows unusable" in capsys.readouterr().err
    assert not out.exists()

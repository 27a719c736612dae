"""The backfill command run in-process against the simulator over HTTP: arguments, output, failures."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from exporter.backfill.counts import (
    MAX_CHUNK_DAYS,
)
from exporter.cli.entry import main as cli_main
from exporter.simulator import SimulatorServer
from exporter.simulator.faults import FaultPlan
from tests.support.backfill import parse, run_cli, truth, values_at
from tests.support.builders import KEY_ID, KEY_SECRET, sim_env


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
        (  # a negative value reaches the flag's own check, as for the exporter
            ["--from", "2024-05-01", "--to", "2024-05-01", "--soda.request-timeout", "-5s"],
            "--soda.request-timeout: '-5s' must be greater than zero",
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

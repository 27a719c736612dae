"""``soda-incidents-exporter incident update`` end to end: a real process against a simulator over HTTP."""

from __future__ import annotations

import http.server
import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from exporter.simulator import SimulatorServer
from exporter.simulator.faults import FaultPlan, FaultRule
from tests.support.builders import KEY_ID, KEY_SECRET, incident, make_org
from tests.support.http import free_port
from tests.support.monitoring_stack import exporter_command
from tests.support.waiting import wait_until

StartSim = Callable[..., SimulatorServer]
UPDATE_PATH = "/api/v1/incidents/"


def run(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``soda-incidents-exporter incident ARGS`` with only ``env``'s SODA_* variables."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("SODA_")}
    return subprocess.run(
        [*exporter_command(), "incident", *args],
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def cloud_env(sim: SimulatorServer, **extra: str) -> dict[str, str]:
    """Variables pointing the command at ``sim`` with valid credentials."""
    return {
        "SODA_CLOUD_URL": sim.cloud_url,
        "SODA_API_KEY_ID": KEY_ID,
        "SODA_API_KEY_SECRET": KEY_SECRET,
        **extra,
    }


def updates_sent(sim: SimulatorServer) -> list[int]:
    """Statuses of the incident updates the simulator answered."""
    return [r.status for r in sim.requests_log if r.path.startswith(UPDATE_PATH)]


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The single stderr line of a failed run (nothing on stdout)."""
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("soda-incidents-exporter incident")
    return lines[0]


def org_of_two() -> object:
    return make_org([incident(7, severity="major"), incident(8, severity="minor")])


def test_update_prints_number_name_severity_status_and_url(start_simulator: StartSim) -> None:
    sim = start_simulator(org_of_two())
    result = run(
        "update", "inc-0007", "--severity", "critical", "--status", "investigating", env=cloud_env(sim)
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "Updated incident #7: Incident 7",
        "  severity:  critical",
        "  status:    investigating",
        f"  cloud URL: {sim.base_url}/incidents/7",
    ]
    assert [u.fields for u in sim.updates] == [{"severity": "critical", "status": "investigating"}]


def test_json_output_and_text_fields(start_simulator: StartSim) -> None:
    sim = start_simulator(org_of_two())
    result = run(
        "update",
        "inc-0008",
        "--title",
        "Late orders",
        "--description",
        "Upstream job stuck",
        "--resolution-notes",
        "Restarted the job",
        "--output",
        "json",
        env=cloud_env(sim),
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "id": "inc-0008",
        "number": 8,
        "name": "Late orders",
        "severity": "minor",
        "status": "reported",
        "cloudUrl": f"{sim.base_url}/incidents/8",
    }
    assert sim.requests_log[-1].body == {
        "title": "Late orders",
        "description": "Upstream job stuck",
        "resolutionNotes": "Restarted the job",
    }


def test_flags_and_credential_files_work_like_the_exporters(
    start_simulator: StartSim, tmp_path: Path
) -> None:
    sim = start_simulator(org_of_two())
    (tmp_path / "id").write_text(KEY_ID + "\n")
    (tmp_path / "secret").write_text(KEY_SECRET + "\n")
    result = run(
        "update",
        "inc-0007",
        "--status",
        "fixing",
        "--soda.cloud-url",
        sim.cloud_url,
        "--soda.api-key-id-file",
        str(tmp_path / "id"),
        "--soda.api-key-secret-file",
        str(tmp_path / "secret"),
        env={"SODA_REGION": "us"},  # a URL given explicitly wins over the region
    )
    assert result.returncode == 0, result.stderr
    assert sim.updates[-1].fields == {"status": "fixing"}


def test_nothing_to_change_is_refused_before_anything_is_sent(start_simulator: StartSim) -> None:
    sim = start_simulator(org_of_two())
    result = run("update", "inc-0007", env=cloud_env(sim))
    assert result.returncode == 2
    assert "nothing to change" in one_line_error(result)
    assert updates_sent(sim) == []


@pytest.mark.slow
def test_values_outside_the_spec_are_refused_before_anything_is_sent(start_simulator: StartSim) -> None:
    sim = start_simulator(org_of_two())
    for args in (
        ["--severity", "blocker"],
        ["--status", "closed"],
        ["--output", "yaml", "--status", "fixing"],
    ):
        result = run("update", "inc-0007", *args, env=cloud_env(sim))
        assert result.returncode == 2, args
        assert "invalid choice" in one_line_error(result)
    result = run("update", "inc-0007", "--title", "  ", env=cloud_env(sim))
    assert result.returncode == 2 and "--title" in one_line_error(result)
    # A negative duration reaches the flag's own check (not argparse's "expected one argument").
    result = run(
        "update", "inc-0007", "--status", "fixing", "--soda.request-timeout", "-5s", env=cloud_env(sim)
    )
    assert (
        result.returncode == 2
        and "--soda.request-timeout: '-5s' must be greater than zero" in one_line_error(result)
    )
    assert updates_sent(sim) == []


def test_missing_credentials_are_a_usage_error(start_simulator: StartSim) -> None:
    sim = start_simulator(org_of_two())
    result = run("update", "inc-0007", "--status", "fixing", env={"SODA_CLOUD_URL": sim.cloud_url})
    assert result.returncode == 2
    assert "SODA_API_KEY_ID" in one_line_error(result)
    assert updates_sent(sim) == []


def test_soda_refusals_are_one_line_and_exit_1(start_simulator: StartSim) -> None:
    sim = start_simulator(
        org_of_two(), extra_keys={"readonly-key": "readonly-secret-42"}, forbidden_key_ids={"readonly-key"}
    )
    missing = run("update", "inc-0404", "--status", "fixing", env=cloud_env(sim))
    assert missing.returncode == 1
    assert "inc-0404 not found" in one_line_error(missing)
    wrong = run(
        "update", "inc-0007", "--status", "fixing", env=cloud_env(sim, SODA_API_KEY_SECRET="nope-nope")
    )
    assert wrong.returncode == 1
    line = one_line_error(wrong)
    assert "401" in line and "nope-nope" not in line and KEY_SECRET not in line
    readonly = cloud_env(sim, SODA_API_KEY_ID="readonly-key", SODA_API_KEY_SECRET="readonly-secret-42")
    forbidden = run("update", "inc-0007", "--status", "fixing", env=readonly)
    assert forbidden.returncode == 1
    assert "Manage incident" in one_line_error(forbidden)
    assert updates_sent(sim) == [404, 401, 403]


def test_a_rate_limited_update_waits_and_succeeds(start_simulator: StartSim) -> None:
    # Another client with the same key filled Soda's window: the command's own bucket cannot know.
    busy = FaultRule("rate_limited", path=f"{UPDATE_PATH}*", times=1, retry_after=1)
    sim = start_simulator(org_of_two(), faults=FaultPlan([busy]))
    started = time.monotonic()
    result = run("update", "inc-0007", "--status", "fixing", env=cloud_env(sim))
    assert result.returncode == 0, result.stderr
    assert "rate limited" in result.stderr and "wait_seconds=1" in result.stderr
    assert updates_sent(sim) == [429, 200]
    assert time.monotonic() - started >= 1.0
    assert [u.fields for u in sim.updates] == [{"status": "fixing"}]


def _listening(port: int, proc: subprocess.Popen[str]) -> bool:
    """True once the simulator process accepts connections on ``port``; fails the test if it has exited."""
    assert proc.poll() is None, proc.stderr.read() if proc.stderr else "simulator exited"
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def test_against_the_standalone_simulator_process() -> None:
    port = free_port()
    base = {k: v for k, v in os.environ.items() if not k.startswith("SODA_")}
    keys = {"SODA_API_KEY_ID": KEY_ID, "SODA_API_KEY_SECRET": KEY_SECRET}
    argv = [
        *exporter_command(),
        "simulate",
        "--web.listen-address",
        f"127.0.0.1:{port}",
        "--simulator.incidents",
        "30",
    ]
    sim = subprocess.Popen(argv, env={**base, **keys}, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: _listening(port, sim), timeout=15)
        url = f"http://127.0.0.1:{port}"
        headers = {"X-API-KEY-ID": KEY_ID, "X-API-KEY-SECRET": KEY_SECRET}

        def open_rows() -> list[dict[str, object]]:
            reply = requests.post(
                f"{url}/v1/impact/incidents", json={"size": 1000}, headers=headers, timeout=10
            )
            rows: list[dict[str, object]] = reply.json()["data"]
            latest = max(str(r["report_date"]) for r in rows)
            return [r for r in rows if r["report_date"] == latest]

        target = next(r for r in open_rows() if str(r["severity"]).lower() != "critical")
        incident_id = str(target["incident_id"])
        result = run("update", incident_id, "--severity", "critical", env={"SODA_CLOUD_URL": url, **keys})
        assert result.returncode == 0, result.stderr
        assert "severity:  critical" in result.stdout
        row = next(r for r in open_rows() if r["incident_id"] == incident_id)
        assert str(row["severity"]).lower() == "critical"
    finally:
        sim.terminate()
        try:
            sim.wait(timeout=5)
        except subprocess.TimeoutExpired:
            sim.kill()
            sim.wait(timeout=5)


class _HtmlNotFound(http.server.BaseHTTPRequestHandler):
    """Any web server that is not Soda: an HTML 404 page for every path."""

    def do_POST(self) -> None:
        body = b"<html><body><h1>404 Not Found</h1></body></html>"
        self.send_response(404)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.mark.slow
def test_a_wrong_cloud_url_is_told_apart_from_an_unknown_incident(start_simulator: StartSim) -> None:
    sim = start_simulator(org_of_two())
    html = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _HtmlNotFound)
    threading.Thread(target=html.serve_forever, daemon=True).start()
    try:
        html_url = f"http://127.0.0.1:{html.server_address[1]}"
        for url, shown in ((html_url, "text/html"), (sim.reporting_url, "application/json")):
            result = run("update", "inc-0007", "--status", "fixing", env=cloud_env(sim, SODA_CLOUD_URL=url))
            assert result.returncode == 1
            line = one_line_error(result)
            assert "not found" not in line
            assert f"{url}, which does not look like the Soda Cloud API" in line
            assert f"answered {shown}" in line and "--soda.cloud-url" in line
    finally:
        html.shutdown()
        html.server_close()
    missing = run("update", "inc-0404", "--status", "fixing", env=cloud_env(sim))
    assert "incident inc-0404 not found in Soda Cloud" in one_line_error(missing)
    assert [u.fields for u in sim.updates] == []

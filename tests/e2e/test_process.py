"""The console script as a real process: demo mode, JSON logs, redaction and clean SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import requests

from exporter.simulator import SimulatorServer
from tests.support.builders import KEY_ID, KEY_SECRET
from tests.support.http import free_port, wait_http_ready
from tests.support.processes import json_lines, spawn
from tests.support.waiting import wait_until


def test_demo_serves_metrics_and_stops_on_sigterm_within_5s(
    tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    port = free_port()
    log = tmp_path / "demo.log"
    proc = spawn(["--demo", "--web.listen-address", f"127.0.0.1:{port}"], {}, log)
    processes.append(proc)

    wait_http_ready(port)
    body = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    assert "soda_incidents_open{" in body and "soda_up 1.0" in body
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=5) == 0
    assert time.monotonic() - started < 5
    events = [line["event"] for line in json_lines(log)]
    assert events.count("poll") == 1
    assert events[-1] == "stopped"


def test_logs_are_json_one_line_per_cycle_and_never_show_the_secret(
    simulator: SimulatorServer, tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    port = free_port()
    log = tmp_path / "run.log"
    env = {
        "SODA_REPORTING_URL": simulator.reporting_url,
        "SODA_API_KEY_ID": KEY_ID,
        "SODA_API_KEY_SECRET": KEY_SECRET + "-but-wrong",
    }
    proc = spawn(["--web.listen-address", f"127.0.0.1:{port}", "--poll.interval", "1s"], env, log)
    processes.append(proc)
    wait_until(lambda: sum('"poll"' in line for line in log.read_text().splitlines()) >= 2, timeout=30)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=5)
    text = log.read_text()
    assert KEY_SECRET not in text
    polls = [line for line in json_lines(log) if line["event"] == "poll"]
    assert len(polls) >= 2
    for line in polls:
        assert line["outcome"] == "failure"
        assert line["reason"] == "auth"
        assert "Traceback" not in json.dumps(line)

"""The console script as a real process: demo mode, JSON logs, redaction, clean SIGTERM, a read-only run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from exporter.simulator import SimulatorServer
from tests.support.builders import KEY_ID, KEY_SECRET
from tests.support.http import free_port, wait_http_ready
from tests.support.processes import json_lines, spawn
from tests.support.tls import write_web_config
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


def test_runs_without_writing_anything_to_its_working_directory(tmp_path: Path) -> None:
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SODA_")}
    env.update(PYTHONDONTWRITEBYTECODE="1", HOME=str(workdir), TMPDIR=str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "exporter.cli", "--demo", "--web.listen-address", f"127.0.0.1:{port}"],
        cwd=workdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_http_ready(port)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert list(workdir.iterdir()) == []


def test_the_console_script_exits_2_with_one_line(tmp_path: Path) -> None:
    import subprocess

    from tests.support.monitoring_stack import exporter_command

    path = write_web_config(tmp_path / "web.yml", {"basic_auth_users": {"alice": "hunter2"}})
    done = subprocess.run(
        [*exporter_command(), "--demo", "--web.config.file", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1, done.stderr
    assert "--web.config.file: basic_auth_users: the password of 'alice' is not a bcrypt hash" in done.stderr
    assert "hunter2" not in done.stderr

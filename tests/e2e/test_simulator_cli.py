"""The standalone simulator process: flags, credentials from the environment, clean stop on SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import requests

from exporter.simulator.cli import SIMULATOR_FLAGS, parse_simulator_args


def test_process_serves_until_sigterm() -> None:
    env = {**os.environ, "SODA_API_KEY_ID": "cli-id", "SODA_API_KEY_SECRET": "cli-secret"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "exporter.simulator",
            "--web.listen-address",
            "127.0.0.1:0",
            "--simulator.incidents",
            "30",
        ],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stderr is not None
        banner = process.stderr.readline()
        match = re.search(r"listening on (http://\S+) ", banner)
        assert match, banner
        base = match.group(1)
        assert requests.get(base + "/v1/ping", timeout=5).status_code == 200
        headers = {"X-API-KEY-ID": "cli-id", "X-API-KEY-SECRET": "cli-secret"}
        response = requests.post(base + "/v1/impact/incidents", json={}, headers=headers, timeout=5)
        assert response.status_code == 200 and response.json()["total"] > 0
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_simulate_help_shows_every_default_and_the_demo_credentials() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SODA_")}
    proc = subprocess.run(
        [sys.executable, "-m", "exporter.cli", "simulate", "--help"],
        env={**env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    text = " ".join(proc.stdout.split())
    for flag in SIMULATOR_FLAGS:
        help_line = text.split(flag.name + " ", 2)[-1].split(" [$", 1)[0]
        assert "default" in help_line, f"{flag.name}: no default in --help"
    for name in ("seed", "incidents", "datasets", "days"):
        assert f"(default {getattr(parse_simulator_args([], {}), name)})" in text
    assert "(default 0s)" in text and "(default 127.0.0.1:8080" in text
    assert "'demo-key-id'" in text and "'demo-key-secret'" in text
    assert "SODA_REPORTING_URL=http://HOST:PORT/v1" in text and "SODA_CLOUD_URL=http://HOST:PORT" in text

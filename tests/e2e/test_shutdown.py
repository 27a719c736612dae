"""SIGTERM ends the whole process within a second: idle, mid-poll on a slow Soda, updates queued."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from exporter.simulator import SimulatorServer
from exporter.simulator.faults import FaultPlan, FaultRule
from tests.support.builders import incident, make_org, sim_env
from tests.support.http import free_port, wait_http_ready
from tests.support.processes import json_lines, spawn
from tests.support.waiting import wait_until

StartSim = Callable[..., SimulatorServer]
TOKEN = "webhook-token-shutdown-3e7f"
# The promise: SIGTERM to exit within 1 s, measured on the process, not on its last log line.
EXIT_BUDGET_SECONDS = 1.0


def terminate(proc: subprocess.Popen[bytes]) -> float:
    """Send SIGTERM and return the seconds until the process has exited, with status 0."""
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0
    return time.monotonic() - started


def start(
    sim: SimulatorServer, log: Path, procs: list[subprocess.Popen[bytes]], *args: str
) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = sim_env(sim, SODA_EXPORTER_WEBHOOK_TOKEN=TOKEN)
    proc = spawn(["--web.listen-address", f"127.0.0.1:{port}", "--log.format", "json", *args], env, log)
    procs.append(proc)
    return proc, port


def events(log: Path) -> list[str]:
    return [str(line["event"]) for line in json_lines(log)]


def test_idle_with_a_scraper_keeping_its_connection_open(
    simulator: SimulatorServer, tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    log = tmp_path / "idle.log"
    proc, port = start(simulator, log, processes)
    wait_http_ready(port)
    wait_until(lambda: "poll" in events(log), 30)
    # Prometheus keeps its scrape connection alive between scrapes; so does this session.
    with requests.Session() as scraper:
        assert scraper.get(f"http://127.0.0.1:{port}/metrics", timeout=5).status_code == 200
        took = terminate(proc)
    assert took < EXIT_BUDGET_SECONDS, f"exited {took:.2f}s after SIGTERM"
    assert events(log)[-1] == "stopped"


@pytest.mark.slow
def test_mid_poll_against_a_slow_soda(
    start_simulator: StartSim, tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    slow_page = FaultRule("delay", path="/v1/impact/incidents", seconds=20.0)
    sim = start_simulator(faults=FaultPlan([slow_page]))
    log = tmp_path / "slow.log"
    proc, _ = start(sim, log, processes, "--poll.concurrency", "4")
    # The rule counts a page request as it arrives, before holding its answer back: the cycle is mid-poll.
    wait_until(lambda: slow_page.fired >= 1, 30)
    took = terminate(proc)
    assert took < EXIT_BUDGET_SECONDS, f"exited {took:.2f}s after SIGTERM"
    seen = events(log)
    assert "poll" not in seen, "the cycle should still have been waiting on Soda"
    assert seen[-1] == "stopped"


def _alert(incident_id: str) -> dict[str, Any]:
    labels = {
        "alertname": "SodaIncidentUnattended",
        "soda_incident_id": incident_id,
        "soda_action": "escalate",
    }
    return {"status": "firing", "labels": labels}


def test_with_the_webhook_queue_holding_updates(
    start_simulator: StartSim, tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    # Each update takes Soda 20 s to answer: the first is in flight, the others wait in the queue.
    slow = FaultRule("delay", path="/api/v1/incidents/*", seconds=20.0)
    sim = start_simulator(
        make_org([incident(n, severity="minor") for n in (1, 2, 3)]), faults=FaultPlan([slow])
    )
    log = tmp_path / "webhook.log"
    proc, port = start(sim, log, processes, "--webhook.enable")
    wait_http_ready(port)
    body = {"version": "4", "status": "firing", "alerts": [_alert(f"inc-000{n}") for n in (1, 2, 3)]}
    headers = {"Authorization": f"Bearer {TOKEN}"}
    answer = requests.post(
        f"http://127.0.0.1:{port}/alertmanager/webhook", json=body, headers=headers, timeout=10
    )
    assert answer.json()["queued"] == 3
    wait_until(lambda: slow.fired >= 1, 15)  # the first update is being sent
    took = terminate(proc)
    assert took < EXIT_BUDGET_SECONDS, f"exited {took:.2f}s after SIGTERM"
    dropped = [
        line
        for line in json_lines(log)
        if line["event"] == "exporter stopping: queued incident updates not sent"
    ]
    assert [(line["count"], line["incident_ids"]) for line in dropped] == [(2, ["inc-0002", "inc-0003"])]
    assert sim.updates == [], "no update was applied"
    assert events(log)[-1] == "stopped"

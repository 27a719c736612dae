"""``--log.level debug`` as a real process: a line per API request, ETL decision and webhook decision."""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from exporter.simulator import SimulatorServer
from exporter.simulator.faults import FaultPlan, FaultRule
from tests.support.builders import KEY_ID, KEY_SECRET, incident, make_org, sim_env
from tests.support.http import free_port, wait_http_ready
from tests.support.processes import json_lines, spawn
from tests.support.waiting import wait_until

StartSim = Callable[..., SimulatorServer]
TOKEN = "webhook-token-debug-logs-91ab"
DEBUG_EVENTS = {"soda request", "soda request will be retried", "etl check", "webhook decision"}


def _payload(*alerts: dict[str, Any]) -> dict[str, Any]:
    return {"version": "4", "status": "firing", "receiver": "soda", "alerts": list(alerts)}


def _alert(status: str, **labels: str) -> dict[str, Any]:
    return {"status": status, "labels": {"alertname": "SodaIncidentUnattended", **labels}}


def run_at(
    level: str, sim: SimulatorServer, log: Path, procs: list[subprocess.Popen[bytes]]
) -> list[dict[str, Any]]:
    """Two poll cycles and one webhook request at ``level``; every JSON log line of the run."""
    port = free_port()
    args = ["--web.listen-address", f"127.0.0.1:{port}", "--poll.interval", "1s", "--log.level", level]
    env = sim_env(sim, SODA_EXPORTER_WEBHOOK_TOKEN=TOKEN, SODA_EXPORTER_WEBHOOK_ENABLE="yes")
    proc = spawn([*args, "--log.format", "json"], env, log)
    procs.append(proc)
    wait_http_ready(port)
    wait_until(lambda: sum('"event": "poll"' in line for line in log.read_text().splitlines()) >= 2, 30)
    body = _payload(
        _alert("firing", soda_incident_id="inc-0007", soda_action="escalate"),
        _alert("firing", soda_incident_id="inc-0008"),  # no soda_action: not for the webhook
    )
    headers = {"Authorization": f"Bearer {TOKEN}"}
    answer = requests.post(
        f"http://127.0.0.1:{port}/alertmanager/webhook", json=body, headers=headers, timeout=10
    )
    assert answer.status_code == 200, answer.text
    wait_until(lambda: '"incident updated"' in log.read_text(), 30)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0
    text = log.read_text()
    for secret in (KEY_SECRET, KEY_ID, TOKEN):
        assert secret not in text
    return json_lines(log)


@pytest.mark.slow
def test_debug_lines_appear_at_debug_and_not_at_info(
    start_simulator: StartSim, tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    # One 503 on the first page, so a request line shows a second attempt.
    flaky = FaultRule("http_status", path="/v1/impact/incidents", code=503, times=1)
    sim = start_simulator(make_org([incident(7), incident(8)]), faults=FaultPlan([flaky]))
    lines = run_at("debug", sim, tmp_path / "debug.log", processes)

    requests_seen = [line for line in lines if line["event"] == "soda request"]
    pages = [line for line in requests_seen if line["endpoint"] == "/impact/incidents"]
    assert pages, "no debug line for the Reporting API pages"
    for line in requests_seen:
        assert {"endpoint", "status", "attempt", "duration_seconds", "bytes"} <= set(line)
    assert all(line["page"] == 1 and line["status"] in ("200", "202") and line["bytes"] > 0 for line in pages)
    assert next(line["attempt"] for line in pages) == 2, "the retried page shows its second attempt"
    assert any(line["event"] == "soda request will be retried" and line["status"] == "503" for line in lines)
    update = [line for line in requests_seen if line["endpoint"] == "/api/v1/incidents/{incidentId}"]
    assert [(line["status"], line["attempt"]) for line in update] == [("200", 1)]

    etl = [line["pull"] for line in lines if line["event"] == "etl check"]
    assert etl[0] == "start" and "skip" in etl[1:], etl

    decisions = {
        (line.get("incident_id"), line["result"]) for line in lines if line["event"] == "webhook decision"
    }
    assert ("inc-0007", "queued") in decisions and ("inc-0008", "not_for_webhook") in decisions
    assert all(line["level"] == "debug" for line in lines if line["event"] in DEBUG_EVENTS)

    quiet = start_simulator(make_org([incident(7), incident(8)]))
    info_lines = run_at("info", quiet, tmp_path / "info.log", processes)
    assert {line["event"] for line in info_lines} & DEBUG_EVENTS == set()
    assert "debug" not in {line["level"] for line in info_lines}
    assert json.dumps(info_lines).count('"incident updated"') == 1

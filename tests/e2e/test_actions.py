"""End to end: an unattended incident fires the actions rule in a real Prometheus, a real Alertmanager
delivers it to the exporter's webhook, Soda (the simulator) records the escalation, and the next poll
shows the new severity."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from exporter.app import Exporter
from exporter.simulator import SimulatorServer, StateChange
from exporter.soda.ratelimit import reset_buckets
from tests.binaries import require_binary
from tests.support.builders import NOW, incident, make_org, sim_env
from tests.support.http import free_port, scrape, series
from tests.support.monitoring_stack import Processes, prometheus_config
from tests.support.rules import load_rules_generator
from tests.support.waiting import wait_for

pytestmark = pytest.mark.slow  # more than a few seconds each (real binaries, builds or many cycles)

TOKEN = "e2e-webhook-token-3f9a61c0"
DEADLINE_SECONDS = 45.0


def wait_until_deadline(what: str, probe: Callable[[], Any], deadline: float, children: Processes) -> Any:
    """Poll ``probe`` until it returns something truthy, within the test's one overall deadline."""
    return wait_for(what, probe, max(0.0, deadline - time.monotonic()), children.logs)


def write_yaml(path: Path, document: dict[str, Any]) -> Path:
    """Dump ``document`` to ``path``."""
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


@pytest.fixture
def children(tmp_path: Path) -> Iterator[Processes]:
    """The test's child processes, always stopped."""
    procs = Processes(tmp_path)
    yield procs
    procs.stop()


def test_unattended_incident_is_escalated_through_prometheus_and_alertmanager(
    start_simulator: Callable[..., SimulatorServer],
    start_exporter: Callable[..., Exporter],
    children: Processes,
    tmp_path: Path,
) -> None:
    prometheus = require_binary("prometheus")
    alertmanager = require_binary("prometheus-alertmanager", "alertmanager")
    reset_buckets()
    deadline = time.monotonic() + DEADLINE_SECONDS

    # inc-0001 is still "reported" ten days on: unattended. inc-0002 was picked up: left alone.
    picked_up = [StateChange(at=NOW - timedelta(days=9), status="investigating")]
    sim = start_simulator(make_org([incident(1, severity="major"), incident(2, changes=picked_up)]))
    exporter = start_exporter(
        sim,
        "--webhook.enable",
        "--poll.interval",
        "1s",
        "--poll.max-age",
        "0",
        env=sim_env(sim, SODA_EXPORTER_WEBHOOK_TOKEN=TOKEN),
    )
    assert exporter.state.wait_ready(20)

    # The committed actions rule, generated with thresholds small enough to fire at once.
    rules = load_rules_generator().build_action_rules({"unattended_seconds": 60, "unattended_for": "0s"})
    write_yaml(tmp_path / "actions.rules.yml", rules)
    (tmp_path / "webhook-token").write_text(TOKEN)
    am_port, prom_port = free_port(), free_port()
    write_yaml(
        tmp_path / "alertmanager.yml",
        {
            "route": {
                "receiver": "soda-actions",
                "group_by": ["alertname", "soda_incident_id"],
                "group_wait": "1s",
                "group_interval": "1s",
                "repeat_interval": "1h",
            },
            "receivers": [
                {
                    "name": "soda-actions",
                    "webhook_configs": [
                        {
                            "url": f"http://127.0.0.1:{exporter.port}/alertmanager/webhook",
                            "send_resolved": False,
                            "http_config": {
                                "authorization": {
                                    "type": "Bearer",
                                    "credentials_file": str(tmp_path / "webhook-token"),
                                }
                            },
                        }
                    ],
                }
            ],
        },
    )
    write_yaml(
        tmp_path / "prometheus.yml",
        prometheus_config([str(tmp_path / "actions.rules.yml")], am_port, [f"127.0.0.1:{exporter.port}"]),
    )
    children.alertmanager(alertmanager, tmp_path / "alertmanager.yml", am_port)
    children.prometheus(prometheus, tmp_path / "prometheus.yml", prom_port)

    def escalations() -> list[Any]:
        return [u for u in sim.updates if u.incident_id == "inc-0001"]

    wait_until_deadline("the escalation to reach Soda", escalations, deadline, children)
    assert escalations()[0].fields == {"severity": "critical"}
    assert all(u.incident_id == "inc-0001" for u in sim.updates)

    def info_severity() -> str | None:
        info = series(scrape(exporter.port).text, "soda_incident_info")
        return next((dict(k)["severity"] for k in info if dict(k)["incident_id"] == "inc-0001"), None)

    wait_until_deadline(
        "the next poll to show the new severity", lambda: info_severity() == "critical", deadline, children
    )

    def prometheus_sees_it() -> bool:
        query = 'soda_incident_info{incident_id="inc-0001", severity="critical"}'
        reply = requests.get(f"http://127.0.0.1:{prom_port}/api/v1/query", params={"query": query}, timeout=5)
        return bool(reply.json()["data"]["result"])

    wait_until_deadline("Prometheus to scrape the new severity", prometheus_sees_it, deadline, children)

    # The escalated incident now fires as a new alert (its severity label changed); Alertmanager
    # delivers it, and the webhook sees there is nothing left to change.
    def skipped_as_unchanged() -> bool:
        found = series(scrape(exporter.port).text, "soda_exporter_incident_updates_total")
        return found.get((("action", "escalate"), ("result", "unchanged")), 0) >= 1

    wait_until_deadline("the repeated alert to be skipped", skipped_as_unchanged, deadline, children)
    assert len(escalations()) == 1

"""End to end: incident alerts carry the dataset's owner and team, and a real Alertmanager routes them
to the owning team's receiver, the unowned ones to the default, after a real Prometheus joins
soda_dataset_info onto them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from exporter.app import Exporter
from exporter.simulator import SimulatorServer
from exporter.simulator.model import Dataset
from exporter.simulator.organization import Organization
from tests.binaries import require_binary
from tests.support.builders import NOW, incident
from tests.support.http import free_port
from tests.support.monitoring_stack import Processes, Webhook, prometheus_config
from tests.support.rules import load_rules_generator
from tests.support.waiting import wait_for

pytestmark = pytest.mark.slow  # more than a few seconds each (real binaries, builds or many cycles)

ALERT = "SodaCriticalIncidentOpen"
# Team A names its team in an attribute, team B's dataset is routed by its owner's e-mail (its team
# is a tag), and nobody owns the third dataset.
DATASETS = [
    Dataset("ds-a", "payments_ledger", "Ledger", "src", "snowflake_prod", "ana@example.com",
            attributes=(("team", ("payments",)),)),
    Dataset("ds-b", "growth_leads", "Leads", "src", "snowflake_prod", "ben@example.com",
            tags=("pii", "team:growth")),
    Dataset("ds-c", "misc_dump", "Dump", "src", "snowflake_prod", None),
]  # fmt: skip


def alertmanager_config(ports: dict[str, int]) -> dict[str, Any]:
    """The README's routing: by team, by owner e-mail, and a default receiver for the rest."""
    timing = {"group_wait": "1s", "group_interval": "1s", "repeat_interval": "1h"}
    return {
        "route": {
            "receiver": "default",
            "group_by": ["alertname", "organization", "dataset_id"],
            **timing,
            "routes": [
                {"matchers": ['team="payments"'], "receiver": "team-a"},
                {"matchers": ['owner_email="ben@example.com"'], "receiver": "team-b"},
            ],
        },
        "receivers": [
            {"name": name, "webhook_configs": [{"url": f"http://127.0.0.1:{port}/", "send_resolved": False}]}
            for name, port in ports.items()
        ],
    }


@pytest.fixture
def sinks() -> Iterator[dict[str, Webhook]]:
    """One webhook sink per receiver."""
    hooks = {name: Webhook() for name in ("team-a", "team-b", "default")}
    for hook in hooks.values():
        hook.__enter__()
    yield hooks
    for hook in hooks.values():
        hook.__exit__()


def received(hook: Webhook) -> dict[str, dict[str, str]]:
    """dataset_id -> labels of the incident alerts a sink got."""
    return {
        a["labels"]["dataset_id"]: a["labels"] for a in hook.alerts() if a["labels"]["alertname"] == ALERT
    }


def test_incidents_reach_the_owning_teams_receiver(
    start_simulator: Callable[..., SimulatorServer],
    start_exporter: Callable[..., Exporter],
    sinks: dict[str, Webhook],
    tmp_path: Path,
) -> None:
    prometheus = require_binary("prometheus")
    alertmanager = require_binary("prometheus-alertmanager", "alertmanager")
    incidents = [incident(n, dataset=ds.dataset_id, severity="critical") for n, ds in enumerate(DATASETS, 1)]
    org = Organization(organization_id="org-routing", datasets=DATASETS, incidents=incidents, now=NOW)
    exporter = start_exporter(start_simulator(org))
    assert exporter.state.wait_ready(20)

    gen = load_rules_generator()
    (tmp_path / "rules.yml").write_text(gen.render(gen.build_rules({"critical_incident_for": "1s"}), "rules"))
    am_port, prom_port = free_port(), free_port()
    config = alertmanager_config({name: hook.port for name, hook in sinks.items()})
    (tmp_path / "alertmanager.yml").write_text(yaml.safe_dump(config))
    prom_config = prometheus_config([str(tmp_path / "rules.yml")], am_port, [f"127.0.0.1:{exporter.port}"])
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(prom_config))
    children = Processes(tmp_path)
    try:
        children.alertmanager(alertmanager, tmp_path / "alertmanager.yml", am_port)
        children.prometheus(prometheus, tmp_path / "prometheus.yml", prom_port)
        wait_for(
            "every receiver to get its incident alert",
            lambda: all(received(hook) for hook in sinks.values()),
            60,
            children.logs,
        )
        # Alertmanager's own view: each incident alert is in exactly one group, of the expected receiver.
        groups = requests.get(f"http://127.0.0.1:{am_port}/api/v2/alerts/groups", timeout=5).json()
        routed = [
            (alert["labels"]["dataset_id"], group["receiver"]["name"])
            for group in groups
            for alert in group["alerts"]
            if alert["labels"]["alertname"] == ALERT
        ]
    finally:
        children.stop()

    assert sorted(routed) == [("ds-a", "team-a"), ("ds-b", "team-b"), ("ds-c", "default")]
    a, b, default = (received(sinks[name]) for name in ("team-a", "team-b", "default"))
    assert set(a) == {"ds-a"} and set(b) == {"ds-b"} and set(default) == {"ds-c"}
    assert a["ds-a"]["team"] == "payments" and a["ds-a"]["dataset_name"] == "payments_ledger"
    assert a["ds-a"]["owner_email"] == "ana@example.com" and a["ds-a"]["datasource_name"] == "snowflake_prod"
    assert b["ds-b"]["team"] == "growth" and b["ds-b"]["owner_email"] == "ben@example.com"
    assert default["ds-c"]["dataset_name"] == "misc_dump"
    assert "owner_email" not in default["ds-c"] and "team" not in default["ds-c"]
    summaries = {a["annotations"]["summary"] for hook in sinks.values() for a in hook.alerts()}
    assert "A critical Soda incident is open on dataset payments_ledger." in summaries

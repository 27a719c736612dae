"""End to end: the dashboards' queries and the rules run on a real Prometheus scraping the exporter,
which polls the Soda Cloud simulator, and alerts reach a webhook through a real Alertmanager."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.binaries import require_binary
from tests.monitoring_stack import (
    Processes,
    PrometheusAPI,
    Webhook,
    exporter_command,
    free_port,
    http_ok,
    tcp_open,
    wait_for,
)
from tests.test_dashboards import DASHBOARD_FILES, load, queries
from tests.test_rules import load_rules_generator

pytestmark = pytest.mark.e2e

JOB = "soda-incidents-exporter"
# Grafana's variables as Grafana would expand them with "All" selected, and its interval macros.
SUBSTITUTIONS = {
    "job": ".*",
    "instance": ".*",
    "dataset": ".*",
    "severity": ".*",
    "__rate_interval": "30s",
    "__interval": "5s",
    "__range": "1h",
}
# Panels that may rightly be empty on the demo organisation: nothing is skipped there.
MAY_BE_EMPTY = {"Reporting rows skipped by reason"}
# Alert expressions the demo organisation must satisfy: it has critical and long-unattended incidents.
DEMO_ALERTS = {"SodaCriticalIncidentOpen", "SodaIncidentUnattended"}
SHORT_FOR = {
    key: "1s"
    for key in (
        "exporter_down_for",
        "poll_failing_for",
        "reporting_stale_for",
        "critical_incident_for",
        "unattended_for",
        "rising_for",
    )
}


@dataclass
class Stack:
    """The running processes' addresses and the webhook that collects notifications."""

    prometheus: PrometheusAPI
    exporter_instance: str
    webhook: Webhook
    processes: Processes
    rule_docs: list[dict[str, Any]]


def substitute(expr: str) -> str:
    """Replace Grafana's template variables and macros with concrete values."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in SUBSTITUTIONS, f"unknown template variable ${name} in {expr}"
        return SUBSTITUTIONS[name]

    return re.sub(r"\$\{?(\w+)\}?", value, expr)


def write_configs(tmp: Path, exporter_port: int, am_port: int, webhook_port: int) -> list[dict[str, Any]]:
    """Write the rules (short `for:`), prometheus.yml and alertmanager.yml; return the rule documents."""
    exporter = f"127.0.0.1:{exporter_port}"
    gen = load_rules_generator()
    docs = [gen.build_rules(SHORT_FOR), gen.build_action_rules(SHORT_FOR)]
    for name, doc in zip(("main.rules.yml", "actions.rules.yml"), docs, strict=True):
        (tmp / name).write_text(gen.render(doc, name), encoding="utf-8")
    prometheus = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "1s"},
        "rule_files": ["main.rules.yml", "actions.rules.yml"],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}]},
        "scrape_configs": [{"job_name": JOB, "static_configs": [{"targets": [exporter]}]}],
    }
    alertmanager = {
        "route": {
            "receiver": "webhook",
            "group_by": ["..."],
            "group_wait": "1s",
            "group_interval": "1s",
            "repeat_interval": "1h",
        },
        "receivers": [{"name": "webhook", "webhook_configs": [{"url": f"http://127.0.0.1:{webhook_port}/"}]}],
    }
    (tmp / "prometheus.yml").write_text(yaml.safe_dump(prometheus), encoding="utf-8")
    (tmp / "alertmanager.yml").write_text(yaml.safe_dump(alertmanager), encoding="utf-8")
    return docs


def start_stack(procs: Processes, tmp: Path, webhook: Webhook) -> Stack:
    """Start the four processes on free loopback ports and wait until each is ready."""
    prometheus_bin = require_binary("prometheus")
    alertmanager_bin = require_binary("prometheus-alertmanager", "alertmanager")
    sim_port, exp_port, prom_port, am_port = (free_port() for _ in range(4))
    docs = write_configs(tmp, exp_port, am_port, webhook.port)
    env = {**os.environ, "SODA_API_KEY_ID": "e2e-key-id", "SODA_API_KEY_SECRET": "e2e-key-secret"}
    cli = exporter_command()
    sim = f"http://127.0.0.1:{sim_port}"
    procs.start("simulator", [*cli, "simulate", "--web.listen-address", f"127.0.0.1:{sim_port}"], env)
    wait_for("the simulator", lambda: tcp_open(sim_port), 30, procs.logs)
    exporter = ["--web.listen-address", f"127.0.0.1:{exp_port}", "--poll.interval", "2s"]
    exporter += ["--soda.reporting-url", f"{sim}/v1", "--soda.cloud-url", sim]
    procs.start("exporter", [*cli, *exporter], env)
    alertmanager = [f"--config.file={tmp / 'alertmanager.yml'}", f"--storage.path={tmp / 'am'}"]
    alertmanager += [f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address="]
    procs.start("alertmanager", [alertmanager_bin, *alertmanager])
    prometheus = [f"--config.file={tmp / 'prometheus.yml'}", f"--storage.tsdb.path={tmp / 'tsdb'}"]
    prometheus += [f"--web.listen-address=127.0.0.1:{prom_port}", "--log.level=warn"]
    procs.start("prometheus", [prometheus_bin, *prometheus])
    for url in (
        f"http://127.0.0.1:{exp_port}/readyz",
        f"http://127.0.0.1:{am_port}/-/ready",
        f"http://127.0.0.1:{prom_port}/-/ready",
    ):
        wait_for(url, lambda u=url: http_ok(u), 45, procs.logs)  # type: ignore[misc]
    api = PrometheusAPI(f"http://127.0.0.1:{prom_port}")
    return Stack(api, f"127.0.0.1:{exp_port}", webhook, procs, docs)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Simulator, exporter, Prometheus and Alertmanager, always stopped afterwards."""
    tmp = tmp_path_factory.mktemp("monitoring")
    procs = Processes(tmp)
    with Webhook() as webhook:
        try:
            yield start_stack(procs, tmp, webhook)
        finally:
            procs.stop()


@pytest.fixture(scope="module")
def warm(stack: Stack) -> Stack:
    """The stack once Prometheus holds several scrapes and evaluated recording rules."""
    api = stack.prometheus
    wait_for(
        "several scrapes and recorded series",
        lambda: (
            api.series(f'count_over_time(soda_up{{job="{JOB}"}}[1m]) >= 6')
            and api.series("soda:incident_open_age_seconds")
            and api.series("severity:soda_incident_resolution_duration_seconds:histogram_quantile")
        ),
        60,
        stack.processes.logs,
    )
    return stack


def test_exporter_target_is_up(warm: Stack) -> None:
    """Prometheus scrapes the exporter, and the exporter polls the simulator successfully."""
    assert [s["value"][1] for s in warm.prometheus.series(f'up{{job="{JOB}"}}')] == ["1"]
    assert [s["value"][1] for s in warm.prometheus.series("soda_up")] == ["1"]


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda p: p.name)
def test_dashboard_queries_return_data(warm: Stack, path: Path) -> None:
    """Every panel query parses and, where the demo organisation has data, returns some."""
    empty = []
    for title, expr in queries(load(path)):
        body = warm.prometheus.query(substitute(expr))
        assert body["status"] == "success", f"{title}: {expr}: {body.get('error')}"
        if not body["data"]["result"] and title not in MAY_BE_EMPTY:
            empty.append(f"{title}: {expr}")
    assert not empty, "queries without data:\n" + "\n".join(empty)


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda p: p.name)
def test_dashboard_variables_have_values(warm: Stack, path: Path) -> None:
    """Every label_values() variable query lists at least one value."""
    for variable in load(path)["templating"]["list"]:
        if variable["type"] != "query":
            continue
        match = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", variable["query"])
        assert match, variable["query"]
        expr = f"count by ({match.group(2)}) ({substitute(match.group(1))})"
        assert warm.prometheus.series(expr), f"variable {variable['name']}: {expr} lists nothing"


def test_rules_are_loaded_and_healthy(warm: Stack) -> None:
    """Prometheus loaded every generated rule and evaluates each without error."""
    rules = warm.prometheus.rules()
    expected = sum(len(g["rules"]) for doc in warm.rule_docs for g in doc["groups"])
    assert len(rules) == expected
    broken = [f"{r['name']}: {r.get('lastError')}" for r in rules if r["health"] != "ok"]
    assert not broken, broken


def test_rule_expressions_parse_and_return_data(warm: Stack) -> None:
    """Each rule expression runs; recording rules and the demo-relevant alerts return data."""
    for doc in warm.rule_docs:
        for group in doc["groups"]:
            for rule in group["rules"]:
                name = rule.get("record") or rule["alert"]
                body = warm.prometheus.query(rule["expr"])
                assert body["status"] == "success", f"{name}: {body.get('error')}"
                if "record" in rule or name in DEMO_ALERTS:
                    assert body["data"]["result"], f"{name} returns nothing on the demo organisation"


def firing(stack: Stack, alertname: str) -> list[dict[str, Any]]:
    """Firing alerts named ``alertname`` received by the webhook so far."""
    alerts = stack.webhook.alerts()
    return [a for a in alerts if a["labels"]["alertname"] == alertname and a["status"] == "firing"]


def test_critical_incident_alert_reaches_webhook(warm: Stack) -> None:
    """SodaCriticalIncidentOpen fires per dataset and Alertmanager delivers it with the expected labels."""
    critical = warm.prometheus.series('sum by (dataset_id) (soda_incidents_open{severity="critical"}) > 0')
    datasets = {s["metric"]["dataset_id"] for s in critical}
    assert datasets, "the demo organisation has no open critical incident"

    def delivered() -> bool:
        return {a["labels"]["dataset_id"] for a in firing(warm, "SodaCriticalIncidentOpen")} >= datasets

    wait_for("critical-incident alerts at the webhook", delivered, 40, warm.processes.logs)
    for alert in firing(warm, "SodaCriticalIncidentOpen"):
        labels = alert["labels"]
        assert set(labels) == {"alertname", "severity", "job", "instance", "dataset_id"}
        assert labels["severity"] == "critical"
        assert labels["job"] == JOB and labels["instance"] == warm.exporter_instance
        assert labels["dataset_id"] in alert["annotations"]["summary"]
        assert alert["annotations"]["runbook_url"].endswith("#sodacriticalincidentopen")


def test_unattended_escalation_reaches_webhook(warm: Stack) -> None:
    """The optional escalation copy of SodaIncidentUnattended carries soda_action and soda_incident_id."""

    def escalations() -> list[dict[str, Any]]:
        alerts = firing(warm, "SodaIncidentUnattended")
        return [a for a in alerts if a["labels"].get("soda_action") == "escalate"]

    alerts = wait_for("escalation alerts at the webhook", escalations, 40, warm.processes.logs)
    for alert in alerts:
        labels = alert["labels"]
        assert labels["soda_incident_id"] == labels["incident_id"]
        assert labels["status"] == "reported"
        assert {"dataset_id", "title", "incident_severity"} <= set(labels)

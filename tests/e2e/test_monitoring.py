"""End to end: the dashboards' queries and the rules run on a real Prometheus scraping two exporters,
one polling two simulated Soda Cloud organisations (--config.file), one a single organisation, and
alerts reach a webhook through a real Alertmanager."""

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
from tests.support.dashboards import DASHBOARD_FILES, load, queries
from tests.support.dashboards import panels as panels_of
from tests.support.http import free_port
from tests.support.monitoring_stack import (
    JOB,
    Org,
    Processes,
    PrometheusAPI,
    Webhook,
    exporter_command,
    http_ok,
    prometheus_config,
    tcp_open,
    write_organizations,
)
from tests.support.rules import load_rules_generator
from tests.support.waiting import wait_for

pytestmark = pytest.mark.slow  # more than a few seconds each (real binaries, builds or many cycles)

ACME, GLOBEX = "acme", "globex"
# Grafana's variables as Grafana would expand them with "All" selected, and its interval macros.
SUBSTITUTIONS = {
    "job": ".*",
    "instance": ".*",
    "organization": ".*",
    "dataset": ".*",
    "team": ".*",
    "owner": ".*",
    "severity": ".*",
    "__rate_interval": "30s",
    "__interval": "5s",
    "__range": "1h",
}
# Dashboard selections every panel must show data for: All, each organisation of the two-organisation
# exporter, and the single-organisation exporter (its series carry no organization label).
SELECTIONS = ("all", ACME, GLOBEX, "single")
# globex's simulator refuses /coverage/datasets: it has no soda_dataset_info, so its datasets show ids.
DATASETS_REFUSED = {"rules": [{"kind": "http_status", "path": "/v1/coverage/datasets", "code": 404}]}
GLOBEX_SIMULATOR = ["--simulator.seed", "7", "--simulator.incidents", "120", "--simulator.datasets", "15"]
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
    exporter_instance: str  # polls acme and globex (--config.file)
    single_instance: str  # polls acme's simulator without an organization label
    webhook: Webhook
    processes: Processes
    rule_docs: list[dict[str, Any]]

    def selection(self, name: str) -> dict[str, str]:
        """The variable values of one of SELECTIONS."""
        if name == "all":
            return {}
        if name == "single":
            return {"instance": self.single_instance}
        return {"organization": name}


def substitute(expr: str, values: dict[str, str] | None = None) -> str:
    """Replace Grafana's template variables and macros with concrete values (All unless given)."""
    chosen = {**SUBSTITUTIONS, **(values or {})}

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in chosen, f"unknown template variable ${name} in {expr}"
        return chosen[name]

    # $1 and the like are label_replace() references, not variables (Grafana leaves them alone too).
    return re.sub(r"\$\{?([A-Za-z_]\w*)\}?", value, expr)


def write_configs(tmp: Path, targets: list[str], am_port: int, webhook_port: int) -> list[dict[str, Any]]:
    """Write the rules (short `for:`), prometheus.yml and alertmanager.yml; return the rule documents."""
    gen = load_rules_generator()
    docs = [gen.build_rules(SHORT_FOR), gen.build_action_rules(SHORT_FOR)]
    for name, doc in zip(("main.rules.yml", "actions.rules.yml"), docs, strict=True):
        (tmp / name).write_text(gen.render(doc, name), encoding="utf-8")
    prometheus = prometheus_config(
        ["main.rules.yml", "actions.rules.yml"], am_port, targets, scrape_timeout="1s"
    )
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


def start_simulators(procs: Processes, tmp: Path, cli: list[str]) -> tuple[Org, Org]:
    """acme (the demo organisation) and globex (smaller, refusing dataset names), each with its own key."""
    acme = Org(ACME, free_port(), "acme-key-id", "acme-key-secret")
    globex = Org(GLOBEX, free_port(), "globex-key-id", "globex-key-secret")
    faults = tmp / "globex-faults.yml"
    faults.write_text(yaml.safe_dump(DATASETS_REFUSED), encoding="utf-8")
    extra = {ACME: [], GLOBEX: [*GLOBEX_SIMULATOR, "--simulator.faults", str(faults)]}
    for org in (acme, globex):
        env = {**os.environ, "SODA_API_KEY_ID": org.key_id, "SODA_API_KEY_SECRET": org.key_secret}
        listen = ["--web.listen-address", f"127.0.0.1:{org.port}"]
        procs.start(f"simulator-{org.name}", [*cli, "simulate", *listen, *extra[org.name]], env)
    for org in (acme, globex):
        wait_for(f"the {org.name} simulator", lambda o=org: tcp_open(o.port), 30, procs.logs)  # type: ignore[misc]
    return acme, globex


def start_stack(procs: Processes, tmp: Path, webhook: Webhook) -> Stack:
    """Start the processes on free loopback ports and wait until each is ready."""
    prometheus_bin = require_binary("prometheus")
    alertmanager_bin = require_binary("prometheus-alertmanager", "alertmanager")
    multi_port, single_port, prom_port, am_port = (free_port() for _ in range(4))
    multi, single = f"127.0.0.1:{multi_port}", f"127.0.0.1:{single_port}"
    docs = write_configs(tmp, [multi, single], am_port, webhook.port)
    cli = exporter_command()
    acme, globex = start_simulators(procs, tmp, cli)
    poll = ["--poll.interval", "2s"]
    env = {**os.environ, **write_organizations(tmp / "organizations.yml", [acme, globex])}
    config = ["--config.file", str(tmp / "organizations.yml")]
    procs.start("exporter-multi", [*cli, "--web.listen-address", multi, *poll, *config], env)
    env = {**os.environ, "SODA_API_KEY_ID": acme.key_id, "SODA_API_KEY_SECRET": acme.key_secret}
    acme_url = f"http://127.0.0.1:{acme.port}"
    endpoints = ["--soda.reporting-url", f"{acme_url}/v1", "--soda.cloud-url", acme_url]
    procs.start("exporter-single", [*cli, "--web.listen-address", single, *poll, *endpoints], env)
    procs.alertmanager(alertmanager_bin, tmp / "alertmanager.yml", am_port)
    procs.prometheus(prometheus_bin, tmp / "prometheus.yml", prom_port)
    for url in (
        f"http://{multi}/readyz",
        f"http://{single}/readyz",
        f"http://127.0.0.1:{am_port}/-/ready",
        f"http://127.0.0.1:{prom_port}/-/ready",
    ):
        wait_for(url, lambda u=url: http_ok(u), 45, procs.logs)  # type: ignore[misc]
    api = PrometheusAPI(f"http://127.0.0.1:{prom_port}")
    return Stack(api, multi, single, webhook, procs, docs)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Two simulators, two exporters, Prometheus and Alertmanager, always stopped afterwards."""
    tmp = tmp_path_factory.mktemp("monitoring")
    procs = Processes(tmp)
    with Webhook() as webhook:
        try:
            yield start_stack(procs, tmp, webhook)
        finally:
            procs.stop()


@pytest.fixture(scope="module")
def warm(stack: Stack) -> Stack:
    """The stack once Prometheus holds several scrapes, evaluated recording rules and dataset names."""
    api = stack.prometheus
    wait_for(
        "several scrapes, recorded series and dataset names",
        lambda: (
            len(api.series(f'count_over_time(soda_up{{job="{JOB}"}}[1m]) >= 6')) == 3
            and api.series("soda:incident_open_age_seconds")
            and api.series("severity:soda_incident_resolution_duration_seconds:histogram_quantile")
            and len(api.series("count by (instance, organization) (soda_dataset_info)")) == 2
            and api.series(f'soda_exporter_dataset_refresh_failures_total{{organization="{GLOBEX}"}} > 0')
        ),
        60,
        stack.processes.logs,
    )
    return stack


def test_exporter_target_is_up(warm: Stack) -> None:
    """Prometheus scrapes both exporters, and they poll every organisation successfully."""
    assert [s["value"][1] for s in warm.prometheus.series(f'up{{job="{JOB}"}}')] == ["1", "1"]
    polling = {
        (s["metric"]["instance"], s["metric"].get("organization")): s["value"][1]
        for s in warm.prometheus.series("soda_up")
    }
    assert polling == {
        (warm.exporter_instance, ACME): "1",
        (warm.exporter_instance, GLOBEX): "1",
        (warm.single_instance, None): "1",
    }


@pytest.mark.parametrize("selection", SELECTIONS)
@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda p: p.name)
def test_dashboard_queries_return_data(warm: Stack, path: Path, selection: str) -> None:
    """Every panel query parses and returns data, for All and for each organisation or exporter."""
    values = warm.selection(selection)
    empty = []
    for title, expr in queries(load(path)):
        body = warm.prometheus.query(substitute(expr, values))
        assert body["status"] == "success", f"{title}: {expr}: {body.get('error')}"
        if not body["data"]["result"]:
            empty.append(f"{title}: {expr}")
    assert not empty, f"queries without data ({selection}):\n" + "\n".join(empty)


def variable_values(stack: Stack, variable: dict[str, Any], values: dict[str, str]) -> list[tuple[str, str]]:
    """(text, value) of a label_values() or query_result() variable, as Grafana would list them."""
    query = variable["query"]
    match = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", query)
    if match:
        expr = f"count by ({match.group(2)}) ({substitute(match.group(1), values)})"
        label_values = [s["metric"].get(match.group(2), "") for s in stack.prometheus.series(expr)]
        return [(v, v) for v in label_values if v]
    match = re.fullmatch(r"query_result\((.+)\)", query)
    assert match, query
    # Grafana prints each series as {label="value",...} (labels sorted) and applies the variable's regex.
    pattern = re.compile(variable["regex"].strip("/").replace("(?<", "(?P<"))
    listed = []
    for series in stack.prometheus.series(substitute(match.group(1), values)):
        text = "{" + ",".join(f'{k}="{v}"' for k, v in sorted(series["metric"].items())) + "}"
        found = pattern.search(text)
        assert found, f"{variable['name']}: {variable['regex']} does not match {text}"
        listed.append((found.group("text"), found.group("value")))
    return listed


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda p: p.name)
def test_dashboard_variables_have_values(warm: Stack, path: Path) -> None:
    """Every query variable lists values; organisation lists both, and none for the single exporter."""
    variables = load(path)["templating"]["list"]
    assert any(v["name"] == "organization" for v in variables), f"{path.name} has no organization variable"
    for variable in variables:
        if variable["type"] != "query":
            continue
        assert variable_values(warm, variable, {}), f"variable {variable['name']} lists nothing"
        if variable["name"] == "organization":
            assert {v for _, v in variable_values(warm, variable, {})} == {ACME, GLOBEX}
            assert not variable_values(warm, variable, warm.selection("single"))


def overview() -> dict[str, Any]:
    """The committed overview dashboard."""
    return load(next(p for p in DASHBOARD_FILES if p.name == "soda-incidents-overview.json"))


def test_dataset_names_replace_ids(warm: Stack) -> None:
    """Joined panels and the dataset variable show soda_dataset_info names; without names, the ids."""
    api = warm.prometheus
    names = {
        (s["metric"].get("organization", ""), s["metric"]["dataset_id"]): s["metric"]["dataset_name"]
        for s in api.series("soda_dataset_info")
    }
    assert names and not any(org == GLOBEX for org, _ in names), "globex's dataset names should be refused"
    model = overview()
    joined = {title: expr for title, expr in queries(model) if "group_left (dataset_name)" in expr}
    assert {"Top datasets by open incidents", "Open incidents", "Oldest open incident"} <= set(joined)
    for title, expr in joined.items():
        for selection in SELECTIONS:
            rows = [s["metric"] for s in api.series(substitute(expr, warm.selection(selection)))]
            assert rows, f"{title} ({selection}) is empty"
            for row in rows:
                key = (row.get("organization", ""), row["dataset_id"])
                expected = row["dataset_id"] if row.get("organization") == GLOBEX else names[key]
                assert row["dataset_name"] == expected, f"{title} ({selection}): {row}"
                assert (row["dataset_name"] != row["dataset_id"]) == (row.get("organization") != GLOBEX)
    dataset = next(v for v in model["templating"]["list"] if v["name"] == "dataset")
    for selection, named in ((ACME, True), (GLOBEX, False), ("single", True)):
        values = warm.selection(selection)
        listed = variable_values(warm, dataset, values)
        assert listed, f"the dataset variable lists nothing for {selection}"
        assert all((text != value) == named for text, value in listed), (selection, listed)
        selected = substitute(
            'soda_incidents_open{instance=~"$instance", organization=~"$organization"}', values
        )
        open_ids = {s["metric"]["dataset_id"] for s in api.series(selected)}
        assert open_ids <= {value for _, value in listed}, selection


def test_rules_are_loaded_and_healthy(warm: Stack) -> None:
    """Prometheus loaded every generated rule and evaluates each without error."""
    rules = warm.prometheus.rules()
    expected = sum(len(g["rules"]) for doc in warm.rule_docs for g in doc["groups"])
    assert len(rules) == expected
    broken = [f"{r['name']}: {r.get('lastError')}" for r in rules if r["health"] != "ok"]
    assert not broken, broken


def test_rule_expressions_parse_and_return_data(warm: Stack) -> None:
    """Each rule expression runs; recording rules and the demo-relevant alerts return data."""
    assert warm.rule_docs, "no rules file loaded"
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
    """SodaCriticalIncidentOpen fires per organisation and dataset, delivered with the expected labels."""
    critical = warm.prometheus.series(
        'sum by (instance, organization, dataset_id) (soda_incidents_open{severity="critical"}) > 0'
    )

    def key(labels: dict[str, str]) -> tuple[str, str, str]:
        return labels["instance"], labels.get("organization", ""), labels["dataset_id"]

    expected = {key(s["metric"]) for s in critical}
    organizations = {(instance, org) for instance, org, _ in expected}
    assert organizations == {
        (warm.exporter_instance, ACME),
        (warm.exporter_instance, GLOBEX),
        (warm.single_instance, ""),
    }, "every organisation should have an open critical incident"

    def delivered() -> bool:
        return {key(a["labels"]) for a in firing(warm, "SodaCriticalIncidentOpen")} >= expected

    wait_for("critical-incident alerts at the webhook", delivered, 40, warm.processes.logs)
    base = {"alertname", "severity", "job", "instance", "dataset_id", "dataset_name"}
    # globex refuses dataset names: its alerts carry the id as the name, and no owner or team.
    info = {key(s["metric"]): s["metric"] for s in warm.prometheus.series("soda_dataset_info")}
    owned = 0
    for alert in firing(warm, "SodaCriticalIncidentOpen"):
        labels = alert["labels"]
        multi = labels["instance"] == warm.exporter_instance
        known = info.get(key(labels), {})
        assert bool(known) == (labels.get("organization") != GLOBEX), labels
        joined = {name for name in ("datasource_name", "owner_email", "team") if known.get(name)}
        assert set(labels) == (base | {"organization"} if multi else base) | joined
        assert {name: labels[name] for name in joined} == {name: known[name] for name in joined}
        assert labels["dataset_name"] == known.get("dataset_name", labels["dataset_id"])
        owned += "team" in labels
        assert labels["severity"] == "critical"
        assert labels["job"] == JOB and labels["instance"] in {warm.exporter_instance, warm.single_instance}
        assert f"dataset {labels['dataset_name']}." in alert["annotations"]["summary"]
        assert labels["dataset_id"] in alert["annotations"]["description"]
        assert alert["annotations"]["runbook_url"].endswith("#sodacriticalincidentopen")
    assert owned, "the demo organisation's critical incidents should reach alerts with a team"


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


def test_health_counts_dataset_refresh_failures(warm: Stack) -> None:
    """The health dashboard shows globex's refused dataset names as failures, and zero for acme."""
    model = load(next(p for p in DASHBOARD_FILES if p.name == "soda-exporter-health.json"))
    panels = dict(queries(model))
    stat = panels["Dataset name refresh failures (1h)"]
    by_reason = panels["Dataset name refresh failures by reason"]
    globex = warm.selection(GLOBEX)
    assert float(warm.prometheus.series(substitute(stat, globex))[0]["value"][1]) > 0
    assert warm.prometheus.series(substitute(stat, warm.selection(ACME)))[0]["value"][1] == "0"
    reasons = {s["metric"].get("reason") for s in warm.prometheus.series(substitute(by_reason, globex))}
    assert reasons and "none" not in reasons
    # Every reason exists from the start at zero, so acme shows zeros (or the "none" fallback), never more.
    acme = warm.prometheus.series(substitute(by_reason, warm.selection(ACME)))
    assert acme and all(float(s["value"][1]) == 0 for s in acme)


def test_team_and_owner_selection_narrow_the_overview(warm: Stack) -> None:
    """Choosing a team shows only its datasets' incidents; the by-team panel splits All by team."""
    api = warm.prometheus
    model = overview()
    # The first query of each panel but the table (also titled "Open incidents").
    panels = {
        p["title"]: p["targets"][0]["expr"] for p in panels_of(model) if p.get("type") not in ("row", "table")
    }
    variables = {v["name"]: v for v in model["templating"]["list"]}
    acme = warm.selection(ACME)
    teams = {value for _, value in variable_values(warm, variables["team"], acme)}
    owners = {value for _, value in variable_values(warm, variables["owner"], acme)}
    assert teams and owners and not variable_values(warm, variables["team"], warm.selection(GLOBEX))
    by_team = {
        s["metric"]["team"]: float(s["value"][1])
        for s in api.series(substitute(panels["Open incidents by team"], acme))
    }
    total = float(api.series(substitute(panels["Open incidents"], acme))[0]["value"][1])
    assert set(by_team) <= teams | {"none"} and sum(by_team.values()) == total > 0
    team = max(by_team.keys() - {"none"}, key=lambda t: by_team[t])
    chosen = {**acme, "team": team}
    narrowed = float(api.series(substitute(panels["Open incidents"], chosen))[0]["value"][1])
    assert narrowed == by_team[team] < total
    shown = {s["metric"]["team"] for s in api.series(substitute(panels["Open incidents by team"], chosen))}
    assert shown == {team}
    rows = api.series(substitute(panels["Open incidents"].replace("sum(", "(", 1), chosen))
    datasets = {s["metric"]["dataset_id"] for s in rows}
    info = api.series(f'soda_dataset_info{{organization="{ACME}", team="{team}"}}')
    assert datasets and datasets <= {s["metric"]["dataset_id"] for s in info}
    listed = {value for _, value in variable_values(warm, variables["dataset"], chosen)}
    assert listed == {s["metric"]["dataset_id"] for s in info} & listed and datasets <= listed
    # globex has no soda_dataset_info: its incidents show under All, and under no particular team.
    globex = warm.selection(GLOBEX)
    assert float(api.series(substitute(panels["Open incidents"], globex))[0]["value"][1]) > 0
    assert not api.series(substitute(panels["Open incidents"], {**globex, "team": team}))

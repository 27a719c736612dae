"""The chart stays in step with its sources: rules, dashboards and the exporter's own flags."""

from __future__ import annotations

import json
import re
from types import ModuleType
from typing import Any

import pytest
import yaml

from exporter.config import actions, arguments
from exporter.config import flags as config
from tests.support.helm import (
    CHART,
    RELEASE,
    chart_defaults,
    container,
    load_values,
    only,
    render,
)
from tests.support.paths import ROOT
from tests.support.scripts import load_script

PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
DASHBOARDS_DIR = ROOT / "grafana" / "dashboards"
FULLNAME = f"{RELEASE}-soda-incidents-exporter"


@pytest.fixture(scope="module")
def rules_generator() -> ModuleType:
    """deploy/prometheus/generate.py."""
    return load_script(PROMETHEUS_DIR / "generate.py", "soda_prometheus_rules_generate")


@pytest.fixture(scope="module")
def chart_generator() -> ModuleType:
    """deploy/helm/generate.py."""
    return load_script(ROOT / "deploy" / "helm" / "generate.py", "helm_chart_generate")


def _rule_groups(values: dict[str, Any]) -> list[dict[str, Any]]:
    """The PrometheusRule's groups rendered with ``values`` (the rule toggle switched on)."""
    rule_values = values.setdefault("prometheusRule", {})
    rule_values["enabled"] = True
    groups: list[dict[str, Any]] = only(render(values), "PrometheusRule")["spec"]["groups"]
    return groups


def test_chart_copies_of_rules_and_dashboards_are_current(chart_generator: ModuleType) -> None:
    stale = [str(p.relative_to(ROOT)) for p in chart_generator.stale_files()]
    assert stale == [], f"run python deploy/helm/generate.py: {stale}"


def test_threshold_values_mirror_the_rules_generator(rules_generator: ModuleType) -> None:
    thresholds = chart_defaults()["prometheusRule"]["thresholds"]
    expected = {**rules_generator.DEFAULT_THRESHOLDS, "exporter_job_regex": ""}
    assert thresholds == expected


def test_default_rules_equal_the_committed_rule_file() -> None:
    committed = yaml.safe_load((PROMETHEUS_DIR / "soda-incidents.rules.yml").read_text(encoding="utf-8"))
    values = {"prometheusRule": {"thresholds": {"exporter_job_regex": "soda-incidents-exporter"}}}
    assert _rule_groups(values) == committed["groups"]


def test_default_job_regex_is_the_scraped_service_name(rules_generator: ModuleType) -> None:
    expected = rules_generator.build_rules({"exporter_job_regex": FULLNAME})["groups"]
    assert _rule_groups({}) == expected
    assert only(render({}), "Service")["metadata"]["name"] == FULLNAME


THRESHOLD_CASES: list[dict[str, Any]] = [
    {"unattended_seconds": 90, "reporting_stale_seconds": 604800, "rising_min_ratio": 0.25},
    {"unattended_seconds": 3 * 86400, "reporting_stale_seconds": 86400, "rising_min_increase": 3},
    {"unattended_seconds": 7200, "reporting_stale_seconds": 2 * 3600 + 60, "exporter_down_for": "1h30m"},
    {"rising_window": "6h", "rising_min_increase": 2.5, "runbook_url_base": "https://wiki.example.com/soda"},
]


@pytest.mark.parametrize("thresholds", THRESHOLD_CASES)
def test_thresholds_from_values_match_the_generator(
    rules_generator: ModuleType, thresholds: dict[str, Any]
) -> None:
    values = {"prometheusRule": {"thresholds": dict(thresholds), "actions": {"enabled": True}}}
    expected = {**thresholds, "exporter_job_regex": FULLNAME}
    groups = rules_generator.build_rules(expected)["groups"]
    groups += rules_generator.build_action_rules(expected)["groups"]
    assert _rule_groups(values) == groups


def test_actions_rule_is_optional_and_matches_the_committed_example() -> None:
    names = [g["name"] for g in _rule_groups({})]
    assert "soda-incidents-exporter.actions" not in names
    committed = yaml.safe_load(
        (PROMETHEUS_DIR / "soda-incidents-actions.rules.yml").read_text(encoding="utf-8")
    )
    values = {
        "prometheusRule": {
            "actions": {"enabled": True},
            "thresholds": {"exporter_job_regex": "soda-incidents-exporter"},
        }
    }
    actions = _rule_groups(values)[-1]
    assert actions == committed["groups"][0]
    assert all(rule["labels"]["soda_action"] == "escalate" for rule in actions["rules"])


def test_additional_rule_labels_reach_alerts_only() -> None:
    values = load_values("all-enabled")
    values["prometheusRule"]["additionalRuleLabels"].update({"severity": "info", "soda_action": "none"})
    groups = _rule_groups(values)
    escalate = [r for g in groups if g["name"].endswith(".actions") for r in g["rules"]]
    assert escalate and all(r["labels"]["soda_action"] == "escalate" for r in escalate)
    assert {r["labels"]["severity"] for g in groups for r in g["rules"] if "alert" in r} == {
        "warning",
        "critical",
    }
    for rule in (r for g in groups for r in g["rules"]):
        if "alert" in rule:
            assert rule["labels"]["team"] == "data-platform"
            assert "severity" in rule["labels"]
        else:
            assert "team" not in rule.get("labels", {})


def _dashboard_maps(values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Dashboard file name -> its ConfigMap, rendered with ``values``."""
    maps = [d for d in render(values) if d["kind"] == "ConfigMap"]
    return {next(iter(m["data"])): m for m in maps}


def test_dashboards_are_the_grafana_json_one_config_map_each() -> None:
    sources = sorted(DASHBOARDS_DIR.glob("*.json"))
    assert sources, "grafana/dashboards/ has no dashboards"
    maps = _dashboard_maps({"dashboards": {"enabled": True}})
    assert sorted(maps) == [p.name for p in sources]
    for source in sources:
        cm = maps[source.name]
        assert json.loads(cm["data"][source.name]) == json.loads(source.read_text(encoding="utf-8"))
        assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert "annotations" not in cm["metadata"]
    assert _dashboard_maps({}) == {}


def test_dashboard_label_folder_and_namespace_are_overridable() -> None:
    maps = _dashboard_maps(load_values("custom-labels"))
    assert maps
    for cm in maps.values():
        labels, annotations = cm["metadata"]["labels"], cm["metadata"]["annotations"]
        assert labels["grafana_dashboard_soda"] == "soda"
        assert "grafana_dashboard" not in labels
        assert labels["example.com/app"] == "grafana"
        assert annotations["k8s-sidecar-target-directory"] == "/tmp/dashboards/soda"
        assert cm["metadata"]["namespace"] == "grafana"


def test_dashboard_names_stay_unique_and_short_for_long_release_names() -> None:
    long_name = "a-very-long-release-name-for-the-soda-incidents-exporter-xyz"
    maps = [d for d in render({"dashboards": {"enabled": True}}, name=long_name) if d["kind"] == "ConfigMap"]
    names = [m["metadata"]["name"] for m in maps]
    assert len(set(names)) == len(names) == len(list(DASHBOARDS_DIR.glob("*.json")))
    assert all(len(n) <= 63 and not n.endswith("-") for n in names)


def _flag_defaults() -> dict[str, str | None]:
    """Flag name -> default text, from the exporter's own flag table."""
    return {flag.name: flag.default for flag in config.FLAGS}


def test_chart_defaults_equal_the_exporter_defaults() -> None:
    args = dict(a.split("=", 1) for a in container(render())["args"] if "=" in a)
    defaults = _flag_defaults()
    for flag, value in args.items():
        if flag == "--log.format":
            assert value == "json", "in a pod there is no TTY: log JSON explicitly"
            continue
        assert value == defaults[flag], f"{flag}: chart {value!r}, exporter {defaults[flag]!r}"
    assert chart_defaults()["web"]["port"] == config.DEFAULT_PORT == chart_defaults()["service"]["port"]


@pytest.mark.parametrize("values_file", ["defaults", "all-enabled", "existing-secret", "demo", "webhook"])
def test_rendered_args_are_accepted_by_the_exporter(values_file: str) -> None:
    args = container(render(load_values(values_file)))["args"]
    namespace = arguments.build_parser().parse_args(args)
    resolved = arguments.resolve_flags(namespace, {})
    assert resolved["web_listen_address"] == (("", chart_defaults()["web"]["port"]),)
    assert bool(resolved["webhook_enable"]) == (values_file == "webhook")


def test_webhook_actions_config_map_is_read_by_the_exporter() -> None:
    values = load_values("webhook")
    docs = render(values)
    config_map = next(
        d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].endswith("-actions")
    )
    parsed = actions.parse_actions(yaml.safe_load(config_map["data"]["actions.yaml"]), "chart")
    assert set(parsed) == set(values["webhook"]["actions"])
    args = container(docs)["args"]
    assert "--webhook.actions-file=/etc/soda-incidents-exporter/webhook-actions/actions.yaml" in args
    template = only(docs, "Deployment")["spec"]["template"]["metadata"]["annotations"]
    values["webhook"]["actions"]["acknowledge"]["status"] = "resolved"
    changed = only(render(values), "Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert template["checksum/config"] != changed["checksum/config"], "editing actions must roll the pod"


def _undocumented_values(text: str) -> list[str]:
    """Leaf keys of values.yaml with no helm-docs ``# --`` comment on them or on an enclosing key."""
    missing: list[str] = []
    stack: list[tuple[int, str, bool]] = []
    pending = False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("# --"):
            pending = True
            continue
        if stripped.startswith("#"):
            continue
        match = re.match(r"^(\s*)([A-Za-z_][\w.-]*):(.*)$", line)
        if not match:
            pending = False if not stripped else pending
            continue
        indent = len(match[1])
        while stack and stack[-1][0] >= indent:
            stack.pop()
        documented = pending or any(d for _, _, d in stack)
        if match[3].strip() and not documented:
            missing.append(".".join([k for _, k, _ in stack] + [match[2]]))
        stack.append((indent, match[2], documented))
        pending = False
    return missing


def test_every_value_has_a_helm_docs_comment() -> None:
    assert _undocumented_values((CHART / "values.yaml").read_text(encoding="utf-8")) == []
    assert _undocumented_values("a:\n  # -- yes\n  b: 1\n  c: 2\n") == ["a.c"]


def test_the_schemas_choices_are_the_exporters() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text(encoding="utf-8"))
    log = schema["properties"]["log"]["properties"]
    flags = {flag.name: flag for flag in config.FLAGS}
    assert tuple(log["level"]["enum"]) == flags["--log.level"].choices
    assert set(log["format"]["enum"]) == set(flags["--log.format"].choices or ())

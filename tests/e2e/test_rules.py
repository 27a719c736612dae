"""Checks of the Prometheus rules in deploy/prometheus: generated, valid, unit-tested, documented."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.binaries import require_binary
from tests.support.paths import ROOT
from tests.support.rules import RULES_DIR, load_rules_generator

RULE_FILES = sorted(RULES_DIR.glob("*.rules.yml"))
RULE_TESTS = sorted((ROOT / "tests" / "rules").glob("*.test.yml"))
RUNBOOKS = ROOT / "README.md"
REQUIRED_ANNOTATIONS = ("summary", "description", "runbook_url")


def alerts_of(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Every alerting rule of a rules document."""
    return [rule for group in doc["groups"] for rule in group["rules"] if "alert" in rule]


def all_alerts() -> list[dict[str, Any]]:
    """Every alerting rule of every committed rules file."""
    return [a for path in RULE_FILES for a in alerts_of(yaml.safe_load(path.read_text(encoding="utf-8")))]


def github_anchors(markdown: str) -> set[str]:
    """The anchors GitHub derives from the headings of a markdown document."""
    anchors = set()
    for match in re.finditer(r"^#+\s+(.+?)\s*$", markdown, flags=re.MULTILINE):
        text = re.sub(r"[^\w\- ]", "", match.group(1).strip().lower())
        anchors.add(text.replace(" ", "-"))
    return anchors


def duration_seconds(text: str) -> int:
    """Parse a Prometheus duration such as 1d, 90m or 1h30m into seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    parts = re.findall(r"(\d+)([smhdw])", text)
    assert parts and "".join(n + u for n, u in parts) == text, f"bad duration {text!r}"
    return sum(int(n) * units[u] for n, u in parts)


def test_rule_files_exist() -> None:
    """The main rules file and the optional actions file are both present."""
    names = {p.name for p in RULE_FILES}
    assert {"soda-incidents.rules.yml", "soda-incidents-actions.rules.yml"} <= names


def test_committed_rules_match_generator() -> None:
    """The committed YAML is exactly what the generator writes with its default thresholds."""
    gen = load_rules_generator()
    rendered = gen.rendered_files()
    assert rendered, "the generator wrote no file"
    for path, text in rendered.items():
        assert path.read_text(encoding="utf-8") == text, (
            f"{path.name} is stale: run deploy/prometheus/generate.py"
        )


def test_thresholds_are_parameters() -> None:
    """Overridden thresholds show up in expressions, durations and descriptions."""
    gen = load_rules_generator()
    doc = gen.build_rules(
        {"exporter_job_regex": "my-soda", "poll_failing_for": "3m", "reporting_stale_seconds": 7200}
    )
    by_name = {a["alert"]: a for a in alerts_of(doc)}
    assert 'up{job=~"my-soda"}' in by_name["SodaExporterDown"]["expr"]
    assert by_name["SodaExporterPollFailing"]["for"] == "3m"
    assert "> 7200" in by_name["SodaReportingDataStale"]["expr"]
    assert "more than 2h" in by_name["SodaReportingDataStale"]["annotations"]["description"]


def test_template_placeholders_pass_through() -> None:
    """String thresholds (such as a Helm value reference) are inserted verbatim."""
    gen = load_rules_generator()
    doc = gen.build_rules({"critical_incident_for": "{{ .Values.for }}", "unattended_seconds": "{{ .X }}"})
    by_name = {a["alert"]: a for a in alerts_of(doc)}
    assert by_name["SodaCriticalIncidentOpen"]["for"] == "{{ .Values.for }}"
    assert "> {{ .X }}" in by_name["SodaIncidentUnattended"]["expr"]


def test_unknown_threshold_is_rejected() -> None:
    """A misspelt threshold fails loudly instead of being ignored."""
    gen = load_rules_generator()
    with pytest.raises(ValueError, match="poll_failing_fro"):
        gen.build_rules({"poll_failing_fro": "1m"})


def test_runbook_base_is_defined_once() -> None:
    """Every runbook URL is built from the generator's single base URL."""
    gen = load_rules_generator()
    alerts = all_alerts()
    assert alerts, "no alert found"
    for rule in alerts:
        assert rule["annotations"]["runbook_url"] == f"{gen.RUNBOOK_URL_BASE}#{rule['alert'].lower()}"


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_promtool_check_rules(path: Path) -> None:
    """promtool accepts every rules file."""
    promtool = require_binary("promtool")
    result = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("path", RULE_TESTS, ids=lambda p: p.name)
def test_promtool_test_rules(path: Path) -> None:
    """The promtool unit tests of the rules pass."""
    promtool = require_binary("promtool")
    result = subprocess.run(
        [promtool, "test", "rules", path.name], cwd=path.parent, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_is_labelled_and_annotated() -> None:
    """Each alert has a severity label and summary, description and runbook_url annotations."""
    alerts = all_alerts()
    assert alerts, "no alert found"
    for rule in alerts:
        assert rule["labels"].get("severity") in {"info", "warning", "critical"}, rule["alert"]
        for key in REQUIRED_ANNOTATIONS:
            assert rule["annotations"].get(key), f"{rule['alert']} lacks {key}"


def test_runbook_anchors_exist() -> None:
    """Every runbook_url anchor is a README section named after the alert."""
    anchors = github_anchors(RUNBOOKS.read_text(encoding="utf-8"))
    alerts = all_alerts()
    assert alerts, "no alert found"
    for rule in alerts:
        anchor = rule["annotations"]["runbook_url"].rsplit("#", 1)[1]
        assert anchor == rule["alert"].lower()
        assert anchor in anchors, f"README.md has no runbook section for {rule['alert']}"


def alert_tests_by_name(path: Path) -> tuple[dict[str, list[tuple[int, bool]]], int]:
    """Map alert name -> (eval time, fires?) of a promtool test file, and its evaluation interval."""
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    found: dict[str, list[tuple[int, bool]]] = {}
    for case in doc["tests"]:
        for check in case.get("alert_rule_test", []):
            entry = (duration_seconds(check["eval_time"]), bool(check.get("exp_alerts")))
            found.setdefault(check["alertname"], []).append(entry)
    return found, duration_seconds(doc.get("evaluation_interval", "1m"))


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_every_alert_is_tested_on_both_sides_of_for(path: Path) -> None:
    """Each alert has a silent check one evaluation before a firing check (node-mixin style)."""
    test_file = ROOT / "tests" / "rules" / path.name.replace(".rules.yml", ".test.yml")
    found, interval = alert_tests_by_name(test_file)
    alerts = alerts_of(yaml.safe_load(path.read_text(encoding="utf-8")))
    assert alerts or not found, f"{path.name} has no alert, yet {test_file.name} tests some"
    for rule in alerts:
        checks = found.get(rule["alert"], [])
        firing = {t for t, fires in checks if fires}
        silent = {t for t, fires in checks if not fires}
        assert any(t - interval in silent for t in firing), (
            f"{rule['alert']}: no test pair 'silent at T-{interval}s, firing at T' in {test_file.name}"
        )
        assert duration_seconds(rule["for"]) > 0, f"{rule['alert']} has no for: duration"


def test_rule_tests_use_every_rule_file() -> None:
    """Each rules file is loaded by at least one promtool test file."""
    loaded = set()
    for path in RULE_TESTS:
        for ref in yaml.safe_load(path.read_text(encoding="utf-8"))["rule_files"]:
            loaded.add((path.parent / ref).resolve())
    assert {p.resolve() for p in RULE_FILES} <= loaded


def test_aggregations_keep_the_organization_label() -> None:
    """Every by (...) and on (...) list keeps organization, so several organisations never merge."""
    lists = [
        match.group(1)
        for path in RULE_FILES
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]
        for rule in group["rules"]
        for match in re.finditer(r"\b(?:by|on)\s*\(([^)]*)\)", rule["expr"])
    ]
    assert lists, "the rules aggregate nothing"
    for labels in lists:
        assert "organization" in {label.strip() for label in labels.split(",")}, labels

"""Checks of the Grafana dashboards in grafana/: generated from code, well formed, wired to the rules."""

from __future__ import annotations

import re
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from tests.support.dashboards import DASHBOARD_FILES, GRAFANA_DIR, load, panels, queries
from tests.support.paths import ROOT
from tests.support.scripts import load_script

RULES_FILE = ROOT / "deploy" / "prometheus" / "soda-incidents.rules.yml"
TARGET_VARIABLES = {"datasource", "job", "instance", "organization"}
REQUIRED_VARIABLES = {
    "soda-incidents-overview.json": TARGET_VARIABLES | {"team", "owner", "dataset", "severity"},
    "soda-exporter-health.json": TARGET_VARIABLES,
}
DATASOURCE_UID = "${datasource}"
ORGANIZATION_MATCHER = 'organization=~"$organization"'
# Series about the exporter process or its scrape: they never carry an organization label.
PROCESS_METRICS = re.compile(r"\b(up|scrape_duration_seconds|process_\w+|soda_exporter_build_info)\{")
NAME_JOIN = "* on (organization, dataset_id) group_left (dataset_name)"
NAME_FALLBACK = "label_replace(group by (organization, dataset_id) ("
RECORDED_NAME = re.compile(r"\b[a-zA-Z_][a-zA-Z0-9_]*:[a-zA-Z0-9_:]+")


def load_dashboard_generator() -> ModuleType:
    """Import grafana/generate.py, which is a script rather than a package module."""
    pytest.importorskip("grafana_foundation_sdk", reason="install the test extra (grafana-foundation-sdk)")
    return load_script(GRAFANA_DIR / "generate.py", "soda_grafana_generate")


def recorded_names() -> set[str]:
    """Names of the recording rules in the committed rules file."""
    doc = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))
    return {rule["record"] for group in doc["groups"] for rule in group["rules"] if "record" in rule}


def test_both_dashboards_are_committed() -> None:
    """The overview and health dashboards exist."""
    assert {p.name for p in DASHBOARD_FILES} == set(REQUIRED_VARIABLES)


def test_committed_json_matches_generator() -> None:
    """The committed JSON is exactly what grafana/generate.py writes."""
    gen = load_dashboard_generator()
    rendered = gen.rendered_dashboards()
    assert {p.name for p in rendered} == {p.name for p in DASHBOARD_FILES}
    for path, text in rendered.items():
        assert path.read_text(encoding="utf-8") == text, (
            f"{path.name} is stale: run python grafana/generate.py"
        )


def test_generator_check_mode_passes() -> None:
    """``generate.py --check`` agrees the committed files are current."""
    assert load_dashboard_generator().main(["--check"]) == 0


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda p: p.name)
def test_dashboard_identity(path: Path) -> None:
    """Each dashboard has a stable uid, a title and tags, and no instance-specific id."""
    model = load(path)
    assert model["uid"] and len(model["uid"]) <= 40
    assert model["title"].startswith("Soda Incidents")
    assert "soda-incidents-exporter" in model["tags"]
    assert "id" not in model or model["id"] is None


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda p: p.name)
def test_template_variables(path: Path) -> None:
    """The datasource, job, instance, organization variables (dataset, severity on the overview) exist."""
    variables = {v["name"]: v for v in load(path)["templating"]["list"]}
    assert REQUIRED_VARIABLES[path.name] <= set(variables)
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for name in set(variables) - {"datasource"}:
        assert variables[name]["datasource"]["uid"] == DATASOURCE_UID, name
        assert variables[name]["query"].startswith(("label_values(", "query_result(")), name
        assert variables[name]["includeAll"] and variables[name]["allValue"] == ".*", name


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda p: p.name)
def test_panels_use_datasource_variable_and_units(path: Path) -> None:
    """Every panel and every query uses the datasource variable; every panel sets a unit."""
    shown = list(panels(load(path)))
    assert shown, f"{path.name} has no panel"
    for panel in shown:
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": DATASOURCE_UID}, panel["title"]
        assert panel["fieldConfig"]["defaults"].get("unit"), f"{panel['title']} has no unit"
        assert panel.get("description"), f"{panel['title']} has no description"
        assert panel["targets"], f"{panel['title']} has no query"
        ref_ids = [t["refId"] for t in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == DATASOURCE_UID, panel["title"]


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda p: p.name)
def test_panel_ids_unique_and_layout_fits(path: Path) -> None:
    """Panel ids are unique, and panels fit the 24-column grid without overlapping."""
    all_panels = list(panels(load(path)))
    ids = [p["id"] for p in all_panels]
    assert len(ids) == len(set(ids))
    cells: set[tuple[int, int]] = set()
    for panel in all_panels:
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["x"] + pos["w"] <= 24, panel.get("title")
        area = {
            (x, y) for x in range(pos["x"], pos["x"] + pos["w"]) for y in range(pos["y"], pos["y"] + pos["h"])
        }
        assert not cells & area, f"{panel.get('title')} overlaps another panel"
        cells |= area


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda p: p.name)
def test_queries_filter_on_job_instance_and_organization(path: Path) -> None:
    """Every query is scoped by job and instance, and by organisation unless it reads process series."""
    found = list(queries(load(path)))
    assert found, f"{path.name} has no query"
    for title, expr in found:
        assert 'job=~"$job"' in expr and 'instance=~"$instance"' in expr, title
        if not PROCESS_METRICS.search(expr):
            assert ORGANIZATION_MATCHER in expr, title
        for selector in re.findall(r"\b(soda_\w+|soda:\w+)\{([^}]*)\}", expr):
            assert ORGANIZATION_MATCHER in selector[1] or selector[0] == "soda_exporter_build_info", title


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda p: p.name)
def test_variable_queries_filter_on_the_variables_above(path: Path) -> None:
    """The organisation variable follows job and instance; the overview's variables follow all three."""
    variables = {v["name"]: v for v in load(path)["templating"]["list"]}
    assert variables["organization"]["query"] == (
        'label_values(soda_up{job=~"$job", instance=~"$instance"}, organization)'
    )
    for name in set(variables) - TARGET_VARIABLES:
        assert ORGANIZATION_MATCHER in variables[name]["query"], name


def test_overview_shows_dataset_names_with_id_fallback() -> None:
    """Dataset names are joined from soda_dataset_info, and a dataset without one keeps its id."""
    model = load(GRAFANA_DIR / "dashboards" / "soda-incidents-overview.json")
    joined = {title: expr for title, expr in queries(model) if NAME_JOIN in expr}
    assert {"Top datasets by open incidents", "Open incidents", "Oldest open incident"} <= set(joined)
    for title, expr in joined.items():
        assert "soda_dataset_info{" in expr and NAME_FALLBACK in expr, title
    legends = {
        panel["title"]: target.get("legendFormat", "")
        for panel in panels(model)
        for target in panel.get("targets", [])
    }
    assert legends["Top datasets by open incidents"] == "{{dataset_name}}"
    assert "dataset_id" not in legends["Oldest open incident"]
    table = next(p for p in panels(model) if p["type"] == "table")
    organize = table["transformations"][0]["options"]
    assert organize["renameByName"]["dataset_name"] == "Dataset"
    dataset = next(v for v in model["templating"]["list"] if v["name"] == "dataset")
    assert dataset["query"].startswith("query_result(") and "\n" not in dataset["query"]
    assert NAME_JOIN in dataset["query"] and NAME_FALLBACK in dataset["query"]
    assert "(?<value>" in dataset["regex"] and "(?<text>" in dataset["regex"]


def test_overview_filters_on_dataset_and_severity() -> None:
    """Queries of series that carry dataset_id or severity honour the matching variable."""
    model = load(GRAFANA_DIR / "dashboards" / "soda-incidents-overview.json")
    found = list(queries(model))
    assert any("soda_incidents_open" in expr for _, expr in found), "no query of soda_incidents_open"
    for title, expr in found:
        if "soda_incidents_open" in expr or "soda_incidents_resolved" in expr:
            assert 'dataset_id=~"$dataset"' in expr, title
        if "soda_reporting_" not in expr and "_truncated" not in expr and "soda:" not in expr:
            assert 'severity=~"$severity"' in expr, title


def test_dashboards_use_recording_rules_that_exist() -> None:
    """Recorded series the dashboards query are defined by the rules file, and some are used."""
    recorded = recorded_names()
    used = {
        name
        for path in DASHBOARD_FILES
        for _, expr in queries(load(path))
        for name in RECORDED_NAME.findall(expr)
    }
    assert used, "the dashboards use no recording rule"
    assert used <= recorded, f"undefined recording rules: {sorted(used - recorded)}"


# Per dashboard: what its queries must mention, and the panel types it must have.
REQUIRED_VIEWS = {
    "soda-incidents-overview.json": (
        (
            "sum by (severity) (soda_incidents_open",
            "sum by (status) (soda_incidents_open",
            "sum by (organization, dataset_id) (soda_incidents_open",
            "soda_incident_open_age_seconds_bucket",
            "histogram_quantile(0.5",
            "histogram_quantile(0.9",
            "soda:incident_open_age_seconds",
            "soda_reporting_last_etl_refresh_timestamp_seconds",
            "soda_reporting_report_date_timestamp_seconds",
        ),
        {"table"},
    ),
    "soda-exporter-health.json": (
        (
            "soda_up",
            "soda_exporter_poll_duration_seconds_bucket",
            "soda_exporter_api_requests_total",
            "soda_exporter_poll_failures_total",
            "soda_exporter_last_success_timestamp_seconds",
            "soda_exporter_polls_skipped_total",
            "soda_exporter_dataset_refresh_failures_total",
            "soda_exporter_rows_skipped_total",
            "soda_dataset_info",
            "scrape_duration_seconds",
        ),
        set(),
    ),
}


@pytest.mark.parametrize("name", sorted(REQUIRED_VIEWS))
def test_each_dashboard_covers_its_required_views(name: str) -> None:
    """The overview has the open, age, resolution, table and freshness views; the health dashboard shows
    polling, API requests, failures, last success and scrapes."""
    needles, panel_types = REQUIRED_VIEWS[name]
    model = load(GRAFANA_DIR / "dashboards" / name)
    text = "\n".join(expr for _, expr in queries(model))
    for needle in needles:
        assert needle in text, needle
    assert panel_types <= {p["type"] for p in panels(model)}


OWNERSHIP_FILTER = (
    'soda_dataset_info{job=~"$job", instance=~"$instance", organization=~"$organization", '
    'team=~"$team", owner_email=~"$owner"}'
)


def test_overview_filters_on_team_and_owner() -> None:
    """Team and owner variables come from soda_dataset_info and narrow every incident query."""
    model = load(GRAFANA_DIR / "dashboards" / "soda-incidents-overview.json")
    variables = {v["name"]: v for v in model["templating"]["list"]}
    assert (
        variables["team"]["query"].endswith(", team)") and "soda_dataset_info{" in variables["team"]["query"]
    )
    assert variables["owner"]["query"].endswith(", owner_email)")
    names = [v["name"] for v in model["templating"]["list"]]
    assert names.index("team") < names.index("dataset") and names.index("owner") < names.index("dataset")
    assert OWNERSHIP_FILTER in variables["dataset"]["query"]
    for title, expr in queries(model):
        if 'dataset_id=~"$dataset"' in expr:
            assert OWNERSHIP_FILTER in expr, title
            # Datasets without soda_dataset_info stay while the selection includes the empty value.
            assert "and on () group(soda_up{" in expr, title


def test_overview_has_open_incidents_by_team_and_owner() -> None:
    """Bar panels sum open incidents by team and by owner; the table shows both columns."""
    model = load(GRAFANA_DIR / "dashboards" / "soda-incidents-overview.json")
    by_title = {p["title"]: p for p in panels(model)}
    for title, label in (("Open incidents by team", "team"), ("Open incidents by owner", "owner_email")):
        target = by_title[title]["targets"][0]
        assert target["expr"].startswith(f"sort_desc(sum by ({label}) (")
        assert f"group_left ({label})" in target["expr"] and target["legendFormat"] == f"{{{{{label}}}}}"
        assert '"none"' in target["expr"]
    table = next(p for p in panels(model) if p["type"] == "table")
    renames = table["transformations"][0]["options"]["renameByName"]
    assert renames["team"] == "Team" and renames["owner_email"] == "Owner"
    assert "group_left (team)" in table["targets"][0]["expr"]

"""The README documents every flag, the metric catalogue, and the two commands.

The README's metrics table is rendered from exporter/exposition/catalogue.py; after changing the
catalogue, rewrite the table and review the diff:

    SODA_EXPORTER_UPDATE_README=1 pytest tests/test_readme.py
"""

from __future__ import annotations

import itertools
import os
import re

from prometheus_client.openmetrics.parser import text_string_to_metric_families

from exporter.actions.payload import ACTION_LABEL, INCIDENT_LABEL
from exporter.config.flags import FLAGS
from exporter.exposition.catalogue import BY_NAME, CATALOGUE, MetricSpec
from exporter.simulator import SimulatorServer
from tests.support.builders import sim_env
from tests.support.http import scrape
from tests.support.paths import ROOT

README_PATH = ROOT / "README.md"
README = README_PATH.read_text()
UPDATE_VAR = "SODA_EXPORTER_UPDATE_README"
# Read at import: the autouse fixture in conftest clears SODA_* variables before each test runs.
UPDATE = os.environ.get(UPDATE_VAR) == "1"
TABLE_HEADER = "| metric | type | labels | meaning |\n|---|---|---|---|\n"
# The families of prometheus_client's own collectors, documented as one row after the catalogue's.
RUNTIME_ROW = "| `process_*`, `python_info` | | | prometheus_client's process and platform collectors. |\n"
RUNTIME_PREFIXES = ("process_", "python_")
# How the README names a type: an info family is a gauge of value 1 in the text format most scrape.
README_TYPES = {"info": "gauge (1)"}


def test_the_two_commands_are_there_verbatim() -> None:
    assert "pip install . && soda-incidents-exporter --demo" in README
    assert "pip install '.[test]' && pytest" in README


def test_every_flag_and_its_variable_is_documented() -> None:
    for flag in FLAGS:
        row = next((line for line in README.splitlines() if line.startswith(f"| `{flag.name}` |")), None)
        assert row is not None, f"{flag.name} missing from the configuration table"
        assert f"`{flag.env_name}`" in row
        if flag.default is not None:
            assert f"`{flag.default}`" in row, f"{flag.name}: default {flag.default} not documented"


def table_row(spec: MetricSpec) -> str:
    """The README row of one catalogue entry."""
    cells = (f"`{spec.name}`", README_TYPES.get(spec.type, spec.type), ", ".join(spec.labels), spec.meaning)
    return "|" + "|".join(f" {cell} " if cell else " " for cell in cells) + "|\n"


def catalogue_table() -> str:
    """The whole metrics table as the catalogue has it."""
    return TABLE_HEADER + "".join(table_row(spec) for spec in CATALOGUE) + RUNTIME_ROW


def readme_table(text: str) -> tuple[int, int]:
    """Where the metrics table sits in the README: (start, end) character offsets."""
    start = text.index(TABLE_HEADER)
    end = start
    for line in text[start:].splitlines(keepends=True):
        if not line.startswith("|"):
            break
        end += len(line)
    return start, end


def test_the_metrics_table_is_the_catalogue() -> None:
    start, end = readme_table(README)
    expected = catalogue_table()
    if UPDATE:
        README_PATH.write_text(README[:start] + expected + README[end:])
        return
    actual = README[start:end]
    only_readme = [line for line in actual.splitlines() if line not in expected.splitlines()]
    only_catalogue = [line for line in expected.splitlines() if line not in actual.splitlines()]
    differing = f"README only: {only_readme}; catalogue only: {only_catalogue}"
    assert actual == expected, (
        f"README metrics table and catalogue differ ({UPDATE_VAR}=1 rewrites it): {differing}"
    )


def test_every_metric_the_readme_names_is_in_the_catalogue_with_those_labels() -> None:
    alert_labels = {ACTION_LABEL, INCIDENT_LABEL}
    mentioned = re.findall(r"`(soda_[a-z0-9_]+)(?:\{([a-z_,]*)\})?`", README)
    assert len(mentioned) > len(CATALOGUE)
    for name, labels in mentioned:
        assert name in BY_NAME or name in alert_labels, (
            f"the README names {name}, which is not in the catalogue"
        )
        if labels:
            assert set(labels.split(",")) <= set(BY_NAME[name].labels), f"{name}{{{labels}}}"


def test_the_webhook_metrics_table_agrees_with_the_catalogue() -> None:
    start = README.index("| metric | labels | meaning |\n")
    rows = list(itertools.takewhile(lambda line: line.startswith("|"), README[start:].splitlines()[2:]))
    assert len(rows) == 3
    for row in rows:
        name_cell, labels_cell = (cell.strip() for cell in row.split("|")[1:3])
        # A label cell may pin a value, e.g. endpoint=`/api/v1/incidents/{incidentId}`.
        labels = [part.split("=")[0] for part in labels_cell.split(", ") if part]
        spec = BY_NAME[name_cell.strip("`")]
        assert labels == list(spec.labels), row


def test_every_served_family_is_in_the_catalogue_with_its_type_help_and_labels(  # type: ignore[no-untyped-def]
    simulator: SimulatorServer, start_exporter
) -> None:
    # A named organisation, so the catalogue's per-organisation marker is checked too; the webhook on, so
    # its families are served.
    env = sim_env(simulator, SODA_EXPORTER_WEBHOOK_TOKEN="readme-test-token")
    exporter = start_exporter(simulator, "--soda.organization", "acme", "--webhook.enable", env=env)
    assert exporter.state.wait_ready(20)
    text = scrape(exporter.port, Accept="application/openmetrics-text; version=1.0.0").text
    by_base = {spec.base: spec for spec in CATALOGUE}
    served = [f for f in text_string_to_metric_families(text) if not f.name.startswith(RUNTIME_PREFIXES)]
    assert {"soda_incidents_open", "soda_up", "soda_exporter_incident_updates"} <= {f.name for f in served}
    for family in served:
        spec = by_base.get(family.name)
        assert spec is not None, f"{family.name} is served but not in the catalogue"
        assert family.type == spec.type, family.name
        assert family.documentation == spec.served_help, family.name
        expected = set(spec.label_names(["organization"]))
        for sample in family.samples:
            assert set(sample.labels) - {"le"} == expected, f"{sample.name}: {sorted(sample.labels)}"

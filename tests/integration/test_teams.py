"""The team label of soda_dataset_info: from a dataset attribute, a ``prefix:name`` tag, or turned off."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from exporter.app import Exporter
from exporter.incidents.datasets import DatasetAccumulator
from exporter.incidents.teams import DEFAULT_TEAM_FROM, TeamSource, parse_team_from, team_of
from exporter.simulator import SimulatorServer
from exporter.simulator.model import Dataset
from exporter.simulator.organization import Organization
from tests.support.builders import NOW, incident
from tests.support.config import CREDS, config_error
from tests.support.http import scrape, series

StartSim = Callable[..., SimulatorServer]
StartExporter = Callable[..., Exporter]
DEFAULT = parse_team_from(DEFAULT_TEAM_FROM)


def test_parse_team_from() -> None:
    assert parse_team_from(DEFAULT_TEAM_FROM) == (TeamSource("attribute", "team"), TeamSource("tag", "team"))
    assert parse_team_from("attribute:owner_team") == (TeamSource("attribute", "owner_team"),)
    assert parse_team_from(" tag:squad , attribute:team") == (
        TeamSource("tag", "squad"),
        TeamSource("attribute", "team"),
    )
    assert parse_team_from("none") == ()
    for bad in ("", "team", "label:team", "tag:", "attribute:team,"):
        with pytest.raises(ValueError, match="attribute:NAME"):
            parse_team_from(bad)


@pytest.mark.parametrize(
    ("row", "sources", "team"),
    [
        ({"attributes": {"team": ["payments"]}, "tags": ["team:growth"]}, DEFAULT, "payments"),
        ({"attributes": {"team": []}, "tags": ["pii", "team:growth"]}, DEFAULT, "growth"),
        ({"attributes": {"domain": ["x"]}, "tags": ["pii"]}, DEFAULT, ""),
        ({"attributes": None, "tags": None}, DEFAULT, ""),
        ({}, DEFAULT, ""),
        ({"attributes": {"team": ["", " data "]}}, DEFAULT, "data"),
        ({"tags": ["squad:ops", "team:growth"]}, parse_team_from("tag:squad"), "ops"),
        (
            {"attributes": {"owner_team": ["finance"], "team": ["x"]}},
            (TeamSource("attribute", "owner_team"),),
            "finance",
        ),
        ({"attributes": {"team": ["payments"]}, "tags": ["team:growth"]}, (), ""),
        ({"tags": ["teamwork", "team:"]}, DEFAULT, ""),
    ],
)
def test_team_of(row: dict[str, object], sources: tuple[TeamSource, ...], team: str) -> None:
    assert team_of(row, sources) == team


def test_the_accumulator_sets_the_team() -> None:
    sink = DatasetAccumulator(DEFAULT)
    sink.add_rows([{"dataset_id": "a", "tags": ["team:growth"]}, {"dataset_id": "b"}])
    assert {d.dataset_id: d.team for d in sink.datasets.values()} == {"a": "growth", "b": ""}
    plain = DatasetAccumulator()  # no sources: the label stays empty
    plain.add_rows([{"dataset_id": "a", "tags": ["team:x"], "attributes": {"team": ["y"]}}])
    assert plain.datasets["a"].team == ""


def teams_org() -> Organization:
    """Datasets naming their team every way Soda can, and one without."""
    sets = [
        Dataset(
            "ds-attr", "orders", "Orders", "s", "wh", "a@example.com", attributes=(("team", ("payments",)),)
        ),
        Dataset("ds-tag", "leads", "Leads", "s", "wh", "b@example.com", tags=("pii", "team:growth")),
        Dataset("ds-squad", "clicks", "Clicks", "s", "wh", None, tags=("squad:web",)),
        Dataset("ds-none", "misc", "Misc", "s", "wh", None),
    ]
    return Organization(
        organization_id="org-t", datasets=sets, incidents=[incident(1, dataset="ds-attr")], now=NOW
    )


def teams(exporter: Exporter) -> dict[str, str]:
    """dataset_id -> team from soda_dataset_info."""
    assert exporter.state.wait_ready(20)
    return {
        dict(k)["dataset_id"]: dict(k).get("team", "")
        for k in series(scrape(exporter.port).text, "soda_dataset_info")
    }


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ((), {"ds-attr": "payments", "ds-tag": "growth", "ds-squad": "", "ds-none": ""}),
        (
            ("--datasets.team-from", "tag:squad"),
            {"ds-attr": "", "ds-tag": "", "ds-squad": "web", "ds-none": ""},
        ),
        (("--datasets.team-from", "none"), {"ds-attr": "", "ds-tag": "", "ds-squad": "", "ds-none": ""}),
    ],
)
def test_team_label_from_the_simulator(
    start_simulator: StartSim, start_exporter: StartExporter, argv: tuple[str, ...], expected: dict[str, str]
) -> None:
    exporter = start_exporter(start_simulator(teams_org()), *argv)
    assert teams(exporter) == expected


def test_a_bad_team_source_is_a_config_error(capsys: pytest.CaptureFixture[str]) -> None:
    line = config_error(capsys, ["--datasets.team-from", "owner"], CREDS)
    assert "--datasets.team-from" in line and "attribute:NAME" in line


def test_the_generated_organization_has_teams_by_attribute_and_by_tag(
    simulator: SimulatorServer, start_exporter: StartExporter
) -> None:
    found = teams(start_exporter(simulator))
    by_owner = {d.dataset_id: d.owner_email for d in simulator.organization.datasets}
    assert {ds for ds, team in found.items() if team} == {ds for ds, owner in by_owner.items() if owner}
    kinds = {"attribute" if d.attributes else "tag" for d in simulator.organization.datasets if d.owner_email}
    assert kinds == {"attribute", "tag"}

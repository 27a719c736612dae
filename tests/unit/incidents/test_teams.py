"""Where a dataset's team comes from: an attribute, a ``prefix:name`` tag, tried in order, or nowhere."""

from __future__ import annotations

from typing import Any

import pytest

from exporter.incidents.teams import DEFAULT_TEAM_FROM, TeamSource, parse_team_from, team_of

ATTRIBUTE, TAG = TeamSource("attribute", "team"), TeamSource("tag", "team")


@pytest.mark.parametrize(
    ("text", "sources"),
    [
        (DEFAULT_TEAM_FROM, (ATTRIBUTE, TAG)),
        ("attribute:owner_team", (TeamSource("attribute", "owner_team"),)),
        (" tag:squad , attribute: team ", (TeamSource("tag", "squad"), ATTRIBUTE)),
        ("tag:a:b", (TeamSource("tag", "a:b"),)),
        ("none", ()),
        (" NONE ", ()),
    ],
)
def test_parse_team_from(text: str, sources: tuple[TeamSource, ...]) -> None:
    assert parse_team_from(text) == sources


@pytest.mark.parametrize(
    "text",
    ["", "team", "label:team", "tag:", "tag: ", "attribute:team,", "Attribute:team", ":team", "nothing"],
)
def test_a_bad_team_source_is_rejected_with_the_accepted_forms(text: str) -> None:
    with pytest.raises(
        ValueError, match=r"^must be 'none' or comma-separated attribute:NAME / tag:PREFIX entries$"
    ):
        parse_team_from(text)


def test_the_default_reads_the_team_attribute_then_the_team_tag() -> None:
    assert DEFAULT_TEAM_FROM == "attribute:team,tag:team"


@pytest.mark.parametrize(
    ("row", "sources", "team"),
    [
        ({"attributes": {"team": ["payments"]}, "tags": ["team:growth"]}, (ATTRIBUTE, TAG), "payments"),
        ({"attributes": {"team": ["payments"]}, "tags": ["team:growth"]}, (TAG, ATTRIBUTE), "growth"),
        ({"attributes": {"team": []}, "tags": ["pii", "team:growth"]}, (ATTRIBUTE, TAG), "growth"),
        ({"attributes": {"team": ["", "  ", " data "]}}, (ATTRIBUTE,), "data"),
        ({"attributes": {"team": [None, 3, "ops"]}}, (ATTRIBUTE,), "ops"),
        ({"attributes": {"team": " bare "}}, (ATTRIBUTE,), "bare"),  # a bare string is tolerated
        ({"attributes": {"team": 5}}, (ATTRIBUTE, TAG), ""),
        ({"attributes": {"team": {"name": "x"}}}, (ATTRIBUTE,), ""),
        ({"attributes": {"domain": ["x"]}, "tags": ["pii"]}, (ATTRIBUTE, TAG), ""),
        ({"attributes": ["team"], "tags": "team:x"}, (ATTRIBUTE, TAG), ""),
        ({"attributes": None, "tags": None}, (ATTRIBUTE, TAG), ""),
        ({}, (ATTRIBUTE, TAG), ""),
        ({"tags": ["squad:ops", "team:growth"]}, (TeamSource("tag", "squad"),), "ops"),
        ({"tags": [" team : growth ", "team:other"]}, (TAG,), "growth"),
        ({"tags": ["teamwork", "team:", "team: ", 7, "team:late"]}, (TAG,), "late"),
        ({"tags": ["teams:x", "my-team:y"]}, (TAG,), ""),
        ({"tags": ["team:a:b"]}, (TAG,), "a:b"),
        ({"attributes": {"team": ["payments"]}, "tags": ["team:growth"]}, (), ""),
        ({"attributes": {"owner": ["x"], "team": ["y"]}}, (TeamSource("attribute", "owner"), ATTRIBUTE), "x"),
        ({"attributes": {"owner": [""], "team": ["y"]}}, (TeamSource("attribute", "owner"), ATTRIBUTE), "y"),
    ],
)
def test_team_of(row: dict[str, Any], sources: tuple[TeamSource, ...], team: str) -> None:
    assert team_of(row, sources) == team

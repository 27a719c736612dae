"""Where a dataset's team comes from in Soda's metadata: an attribute, a ``prefix:name`` tag, or nowhere."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

DEFAULT_TEAM_FROM = "attribute:team,tag:team"
_KINDS = ("attribute", "tag")


@dataclass(frozen=True)
class TeamSource:
    """One place to look: ``kind`` is attribute or tag, ``key`` the attribute name or tag prefix."""

    kind: str
    key: str


def parse_team_from(text: str) -> tuple[TeamSource, ...]:
    """Parse ``attribute:NAME``/``tag:PREFIX`` entries, comma-separated and tried in order; ``none`` is ()."""
    if text.strip().lower() == "none":
        return ()
    sources = []
    for part in text.split(","):
        kind, sep, key = part.strip().partition(":")
        if not sep or kind not in _KINDS or not key.strip():
            raise ValueError("must be 'none' or comma-separated attribute:NAME / tag:PREFIX entries")
        sources.append(TeamSource(kind, key.strip()))
    return tuple(sources)


def _first_text(values: Any) -> str:
    """The first non-empty string of an attribute's values (a list per the spec; a bare string tolerated)."""
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, Sequence):
        return ""
    for value in values:
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def _from_tags(tags: Any, prefix: str) -> str:
    if not isinstance(tags, Sequence) or isinstance(tags, str):
        return ""
    for tag in tags:
        if isinstance(tag, str):
            head, sep, name = tag.partition(":")
            if sep and head.strip() == prefix and name.strip():
                return name.strip()
    return ""


def team_of(row: Mapping[str, Any], sources: Sequence[TeamSource]) -> str:
    """The team named by the first source that has one in this DatasetsData row, else ""."""
    for source in sources:
        if source.kind == "attribute":
            attributes = row.get("attributes")
            team = _first_text(attributes.get(source.key)) if isinstance(attributes, Mapping) else ""
        else:
            team = _from_tags(row.get("tags"), source.key)
        if team:
            return team
    return ""

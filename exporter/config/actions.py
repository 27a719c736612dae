"""What a ``soda_action`` alert label asks for: the built-in actions and those of the actions file."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from exporter.config.yamlfile import load_yaml_file
from exporter.soda.cloud import IncidentUpdate

BUILTIN_ACTIONS: Mapping[str, IncidentUpdate] = {
    "escalate": IncidentUpdate(severity="critical"),
    "investigate": IncidentUpdate(status="investigating"),
}
# Action names become the ``action`` label of a metric, so they are kept short and tame.
ACTION_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
ACTION_FIELDS = ("title", "severity", "status", "description", "resolution_notes")


class ActionsFileError(ValueError):
    """The actions file is unreadable or malformed; the message names the file and the action."""


def parse_actions(document: Any, source: str) -> dict[str, IncidentUpdate]:
    """Validate a loaded actions document (``{actions: {name: {field: value}}}``) into updates."""
    if not isinstance(document, dict) or not isinstance(document.get("actions"), dict):
        raise ActionsFileError(f"{source}: expected a mapping with an 'actions' mapping")
    unknown_top = sorted(set(document) - {"actions"})
    if unknown_top:
        raise ActionsFileError(f"{source}: unknown top-level key(s): {', '.join(map(str, unknown_top))}")
    actions: dict[str, IncidentUpdate] = {}
    for name, fields in document["actions"].items():
        where = f"{source}: action {name!r}"
        if not isinstance(name, str) or not ACTION_NAME.match(name):
            raise ActionsFileError(f"{where}: names are lower-case letters, digits, '-' and '_'")
        if not isinstance(fields, dict) or not fields:
            raise ActionsFileError(f"{where}: expected a mapping of fields to set")
        unknown = sorted(str(key) for key in fields if key not in ACTION_FIELDS)
        if unknown:
            raise ActionsFileError(
                f"{where}: unknown field(s) {', '.join(unknown)} (allowed: {', '.join(ACTION_FIELDS)})"
            )
        if any(not isinstance(value, str) for value in fields.values()):
            raise ActionsFileError(f"{where}: every value must be a string")
        try:
            actions[name] = IncidentUpdate(**fields)
        except ValueError as exc:
            raise ActionsFileError(f"{where}: {exc}") from None
    return actions


def load_actions(path: str | None) -> dict[str, IncidentUpdate]:
    """The built-in actions, plus (and overridden by) those of the YAML file at ``path``."""
    actions = dict(BUILTIN_ACTIONS)
    if not path:
        return actions
    try:
        document = load_yaml_file(path, "actions file")
    except ValueError as exc:
        raise ActionsFileError(str(exc)) from None
    actions.update(parse_actions(document, f"actions file {path}"))
    return actions

"""The committed Grafana dashboards as data: their panels and their PromQL queries."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.support.paths import ROOT

GRAFANA_DIR = ROOT / "grafana"


DASHBOARD_FILES = sorted((GRAFANA_DIR / "dashboards").glob("*.json"))


def load(path: Path) -> dict[str, Any]:
    """A committed dashboard as data."""
    model: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return model


def panels(model: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel of a dashboard, rows and panels inside collapsed rows included."""
    for panel in model.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def queries(model: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(panel title, PromQL expression) for every query of every panel."""
    for panel in panels(model):
        for target in panel.get("targets", []):
            yield panel["title"], target["expr"]

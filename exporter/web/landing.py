"""The landing page: links, version, where the data comes from, and each organisation's last poll."""

from __future__ import annotations

import html
import time
from collections.abc import Mapping
from dataclasses import dataclass

from exporter import __version__
from exporter.exposition.state import ExporterState
from exporter.logs import current_secrets, redact

DOCS_URL = "https://github.com/soda-incidents-exporter/soda-incidents-exporter#readme"
COLUMNS = ("organization", "last poll", "finished", "duration", "open incidents", "report date", "next poll")


@dataclass(frozen=True)
class LandingInfo:
    """What the page shows besides the state: paths, demo mode, and each organisation's poll interval."""

    telemetry_path: str
    demo: bool
    intervals: Mapping[str, float]  # organisation -> seconds between the end of a cycle and the next


def _when(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(timestamp))


def _rows(state: ExporterState, info: LandingInfo) -> list[str]:
    rows = []
    secrets = current_secrets()  # failure messages carry no secrets by construction; this makes sure
    for org, outcome in sorted(state.outcomes().items()):
        snapshot = state.snapshot(org)
        verdict = "success" if outcome.success else f"failure: {redact(outcome.message, secrets)}"
        open_count = str(snapshot.open_total) if snapshot is not None else "none served yet"
        if snapshot is not None and not outcome.success:
            open_count += " (from the last good poll)"
        report = str(snapshot.latest_report_date) if snapshot and snapshot.latest_report_date else "-"
        interval = info.intervals.get(org)
        next_poll = _when(outcome.finished_at + interval) if interval is not None else "-"
        cells = (
            org,
            verdict,
            _when(outcome.finished_at),
            f"{outcome.duration_seconds:.2f}s",
            open_count,
            report,
            next_poll,
        )
        rows.append("<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in cells) + "</tr>")
    return rows


def render(state: ExporterState, info: LandingInfo) -> bytes:
    """The page as UTF-8 bytes; every value from outside is escaped."""
    empty = f"<tr><td colspan={len(COLUMNS)}>no poll has finished yet</td></tr>"
    table = "".join(_rows(state, info)) or empty
    header = "".join(f"<th>{name}</th>" for name in COLUMNS)
    path = html.escape(info.telemetry_path, quote=True)
    demo = (
        "<p><strong>Demo mode:</strong> these figures come from the embedded Soda Cloud simulator, "
        "not from a real Soda Cloud.</p>"
        if info.demo
        else ""
    )
    page = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Soda Incidents Exporter</title></head>"
        f"<body><h1>Soda Incidents Exporter</h1><p>Version {html.escape(__version__)}</p>{demo}"
        f"<ul><li><a href='{path}'>Metrics</a></li><li><a href='/healthz'>Health</a></li>"
        "<li><a href='/readyz'>Readiness</a></li>"
        f"<li><a href='{html.escape(DOCS_URL, quote=True)}'>Documentation</a></li></ul>"
        f"<h2>Last poll</h2><table border=1><tr>{header}</tr>{table}</table></body></html>"
    )
    return page.encode()

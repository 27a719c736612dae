"""Reporting API rows by hand, folded and snapshotted the way one poll cycle does, without HTTP."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from exporter.incidents.fold import resolved_accumulator, unresolved_accumulator
from exporter.incidents.snapshot import PollData, SnapshotSettings, build_snapshot

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)


def row(
    incident: str,
    day: str,
    *,
    dataset: str = "ds-a",
    severity: Any = "major",
    status: Any = "reported",
    created: Any = "2026-11-10T08:00:00Z",
    resolved: Any = None,
    **extra: Any,
) -> dict[str, Any]:
    """One IncidentData row as the Reporting API sends it."""
    data = {
        "incident_id_report_date_id": f"{incident}@{day}",
        "incident_id": incident,
        "report_date": day,
        "dataset_id": dataset,
        "severity": severity,
        "status": status,
        "created_at": created,
        "resolved_at": resolved,
        "title": f"title {incident}",
        "check_name": f"check {incident}",
        "lead_email": "lead@example.com",
    }
    data.update(extra)
    return data


def snapshot_of(unresolved: list[dict[str, Any]], resolved: list[dict[str, Any]] = (), **settings: Any):  # type: ignore[assignment]
    """Fold rows the way one poll cycle does and build the snapshot."""
    u, r = unresolved_accumulator(), resolved_accumulator()
    u.add_rows(list(unresolved))
    r.add_rows(list(resolved))
    return build_snapshot(PollData(u, r), NOW, SnapshotSettings(**settings))

"""Builders for the unit tests of the pure core: Reporting API rows by hand, folded without any HTTP."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone
from types import SimpleNamespace
from typing import Any

from exporter.incidents.fold import RowAccumulator, resolved_accumulator, unresolved_accumulator
from exporter.incidents.snapshot import PollData, Snapshot, SnapshotSettings, build_snapshot

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)
LATEST = "2026-11-20"
CREATED = "2026-11-10T08:00:00Z"
CREATED_TS = datetime(2026, 11, 10, 8, tzinfo=timezone.utc).timestamp()


def incident_row(
    incident: Any,
    day: Any = LATEST,
    *,
    dataset: Any = "ds-a",
    severity: Any = "major",
    status: Any = "reported",
    created: Any = CREATED,
    resolved: Any = None,
    **extra: Any,
) -> dict[str, Any]:
    """One IncidentData row as the Reporting API sends it; ``extra`` overrides or adds fields."""
    data: dict[str, Any] = {
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
        "lead_email": f"lead-{incident}@example.com",
    }
    data.update(extra)
    return data


def full_row(incident: str, day: str = LATEST, **overrides: Any) -> dict[str, Any]:
    """A row whose every field differs from ``incident_row``'s defaults, to see each one carried through."""
    fields: dict[str, Any] = {
        "dataset": "ds-z",
        "severity": "Critical",
        "status": "Fixing",
        "created": "2026-11-19T12:00:00+01:00",
        "title": "Row count dropped",
        "check_name": "row_count > 0",
        "lead_email": "lead@example.com",
    }
    return incident_row(incident, day, **{**fields, **overrides})


def resolved_row(
    incident: str, day: str = LATEST, *, resolved: Any = "2026-11-19T08:00:00Z", **kw: Any
) -> dict[str, Any]:
    """A row of the ``status=resolved`` query."""
    kw.setdefault("status", "resolved")
    return incident_row(incident, day, resolved=resolved, **kw)


def as_record(row: Any, fields: Iterable[str]) -> SimpleNamespace:
    """A row as a page decoded into records holds it: an attribute per field, None when absent."""
    return SimpleNamespace(**{name: row.get(name) for name in fields})


def fold(accumulator: RowAccumulator, *pages: Iterable[Any]) -> RowAccumulator:
    """Feed ``pages`` to ``accumulator`` one page at a time, as the poller does."""
    for page in pages:
        accumulator.add_rows(list(page))
    return accumulator


def snapshot_of(
    unresolved: Iterable[Any] = (),
    resolved: Iterable[Any] = (),
    *,
    now: datetime = NOW,
    last_etl_refresh: datetime | None = None,
    **settings: Any,
) -> Snapshot:
    """Fold one page per query the way a poll cycle does and build the snapshot."""
    data = PollData(
        fold(unresolved_accumulator(), unresolved), fold(resolved_accumulator(), resolved), last_etl_refresh
    )
    return build_snapshot(data, now, SnapshotSettings(**settings))

"""What an action still changes on an incident whose current severity and status the snapshot knows."""

from __future__ import annotations

from exporter.soda.cloud import IncidentUpdate


def remaining_changes(update: IncidentUpdate, current: tuple[str, str]) -> IncidentUpdate:
    """The part of ``update`` that would change an incident now in (severity, status) ``current``."""
    # Only severity and status are in the snapshot; the other fields cannot be compared and always count.
    severity, status = (value.strip().lower() for value in current)
    fields = update.fields()
    if fields.get("severity") == severity:
        del fields["severity"]
    if fields.get("status") == status:
        del fields["status"]
    return IncidentUpdate(**fields)

"""The incident vocabulary of the Soda APIs, in one place: severities, statuses, skip reasons."""

from __future__ import annotations

SEVERITIES = ("minor", "major", "critical")
STATUSES = ("reported", "investigating", "fixing", "resolved")
RESOLVED = "resolved"
# Every status but resolved: an incident in one of these at the latest report date is open.
OPEN_STATUSES = tuple(status for status in STATUSES if status != RESOLVED)

# Every reason a row can be skipped for, so the counter's series exist (at 0) from the start.
SKIP_REASONS = (
    "not_an_object",
    "missing_incident_id",
    "bad_report_date",
    "missing_dataset_id",
    "bad_created_at",
    "bad_resolved_at",
    "bad_status",
)

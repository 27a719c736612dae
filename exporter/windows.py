"""Where a pull's report-date windows sit: at the newest data Soda holds, however old it is."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone

from exporter.soda.reporting import ReportingClient

# How far back the search for the latest report date looks when both windows come back empty.
SEARCH_HORIZON_DAYS = 400


def end_of_day(day: date) -> datetime:
    """The last second of ``day`` in UTC: a window anchored there includes the whole date."""
    return datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=timezone.utc)


def newest_day(exists: Callable[[date], bool], first: date, last: date) -> date | None:
    """The newest day ``d`` in first..last with ``exists(d)`` (rows on or after ``d``), by bisection."""
    # exists() only turns from True to False as d grows, so ~log2(days) calls find the boundary.
    if first > last or not exists(first):
        return None
    while first < last:
        middle = first + timedelta(days=((last - first).days + 1) // 2)
        if exists(middle):
            first = middle
        else:
            last = middle - timedelta(days=1)
    return first


def latest_report_day(client: ReportingClient, now: datetime, deadline: float) -> date | None:
    """The latest report date with any row of either status in the last SEARCH_HORIZON_DAYS, or None.

    Only needed when the ETL time does not say how stale the data is and both windows missed it; each
    probe is one request for a single row.
    """
    found: date | None = None
    first = now.date() - timedelta(days=SEARCH_HORIZON_DAYS)
    for status in ("unresolved", "resolved"):

        def exists(day: date, status: str = status) -> bool:
            start = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
            return client.has_incidents(status, start, now, deadline=deadline)

        newest = newest_day(exists, found or first, now.date())
        if newest is not None:
            found = newest
    return found

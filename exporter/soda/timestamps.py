"""Lenient ISO 8601 parsing for Soda's timestamps: naive means UTC, any offset is converted to UTC."""

from __future__ import annotations

import re
from datetime import date, datetime, timezone

_FRACTION = re.compile(r"\.(\d+)")


def parse_timestamp(value: object) -> datetime:
    """Parse an ISO timestamp into an aware UTC datetime; raise ValueError when unusable."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("not a timestamp")
    try:  # fast path: Soda's usual text, which fromisoformat reads as it is
        parsed = datetime.fromisoformat(value)
    except ValueError:
        text = value.strip()
        if text[-1:] in ("Z", "z"):
            text = text[:-1] + "+00:00"
        # Python 3.10's fromisoformat accepts only 3 or 6 fractional digits.
        text = _FRACTION.sub(lambda m: "." + (m.group(1) + "000000")[:6], text, count=1)
        parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is timezone.utc:
        return parsed
    if parsed.tzinfo is None:
        # The spec does not say; Soda stores UTC, so a naive timestamp is read as UTC.
        return parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def report_day(value: object) -> str | None:
    """The ``YYYY-MM-DD`` of a report date, or None when unusable.

    The spec says ``format: date``; a date-time (``2026-11-30T00:00:00``) is read as its date part, as
    written, since a report date names a day and not an instant.
    """
    if not isinstance(value, str):
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            date.fromisoformat(text)
            return text
        if len(text) > 10 and text[10] in "Tt ":
            parse_timestamp(text)
            date.fromisoformat(text[:10])
            return text[:10]
    except ValueError:
        pass
    return None

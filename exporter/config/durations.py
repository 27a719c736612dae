"""Parse Go-style duration strings (``90s``, ``5m``, ``1h30m``, ``3d``) or plain seconds."""

from __future__ import annotations

import re

_UNIT_SECONDS = {
    "ms": 0.001,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
    "w": 604800.0,
    "y": 31536000.0,
}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")


def parse_duration(text: str) -> float:
    """Return the number of seconds in ``text``; raise ValueError when it is not a duration."""
    value = text.strip()
    if not value:
        raise ValueError("is empty, not a duration")
    try:
        seconds = float(value)
    except ValueError:
        pos = 0
        seconds = 0.0
        for match in _PART.finditer(value):
            if match.start() != pos:
                break
            seconds += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
            pos = match.end()
        if pos != len(value) or pos == 0:
            raise ValueError("is not a duration (use e.g. 90s, 5m, 1h, 3d or plain seconds)") from None
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        raise ValueError("is not a finite duration")
    if seconds < 0:
        raise ValueError("must not be negative")
    return seconds


def format_duration(seconds: float) -> str:
    """Render seconds back in the largest whole Go-style unit (``300`` -> ``5m``)."""
    for unit in ("w", "d", "h", "m", "s"):
        size = _UNIT_SECONDS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"

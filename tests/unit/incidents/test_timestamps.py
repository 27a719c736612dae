"""Soda's timestamps and report dates: lenient ISO 8601, naive read as UTC, offsets converted."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from exporter.incidents.timestamps import parse_timestamp, report_day

UTC = timezone.utc


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-20T10:00:00+00:00", datetime(2026, 11, 20, 10, tzinfo=UTC)),
        ("2026-11-20T10:00:00Z", datetime(2026, 11, 20, 10, tzinfo=UTC)),
        ("2026-11-20T10:00:00z", datetime(2026, 11, 20, 10, tzinfo=UTC)),
        ("2026-11-20T10:00:00.5z", datetime(2026, 11, 20, 10, 0, 0, 500000, tzinfo=UTC)),
        (" 2026-11-20T10:00:00.25 ", datetime(2026, 11, 20, 10, 0, 0, 250000, tzinfo=UTC)),
        ("2022-05-18T06:08:22.620196441Z", datetime(2022, 5, 18, 6, 8, 22, 620196, tzinfo=UTC)),
        (" 2022-05-18T06:08:22.620196441z ", datetime(2022, 5, 18, 6, 8, 22, 620196, tzinfo=UTC)),
        (" 2026-11-20T12:00:00.1234567+02:00 ", datetime(2026, 11, 20, 10, 0, 0, 123456, tzinfo=UTC)),
        ("2026-11-20T10:00:00", datetime(2026, 11, 20, 10, tzinfo=UTC)),
        ("2026-11-20 10:00:00", datetime(2026, 11, 20, 10, tzinfo=UTC)),
        ("2026-11-20T05:00:00-05:00", datetime(2026, 11, 20, 10, tzinfo=UTC)),
        (" 2026-11-20T05:00:00-05:00", datetime(2026, 11, 20, 10, tzinfo=UTC)),
        ("2026-11-21T01:30:00+15:30z", None),
    ],
)
def test_a_timestamp_parses_to_an_aware_utc_datetime(text: str, expected: datetime | None) -> None:
    if expected is None:
        with pytest.raises(ValueError):
            parse_timestamp(text)
        return
    parsed = parse_timestamp(text)
    assert parsed == expected
    assert parsed.tzinfo is UTC
    assert parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize("value", [None, "", "  ", "yesterday", "2026-11-20T25:00:00Z", 1732096800, ["x"]])
def test_an_unusable_timestamp_raises_value_error(value: object) -> None:
    with pytest.raises(ValueError):
        parse_timestamp(value)


@pytest.mark.parametrize(
    ("value", "day"),
    [
        ("2026-11-30", "2026-11-30"),
        (" 2026-11-30 ", "2026-11-30"),
        ("2026-11-30T00:00:00", "2026-11-30"),
        ("2026-11-30t23:59:59Z", "2026-11-30"),
        ("2026-11-30 10:00:00+02:00", "2026-11-30"),
        ("2026-11-30 00:00:00+02:00", "2026-11-30"),
        ("2026-11-30T23:00:00-05:00", "2026-11-30"),  # the date as written, not converted
        ("2026-11-30T10:00:00.123456789Z", "2026-11-30"),
        ("2026-11-30T00:00:00Z", "2026-11-30"),
        ("2026-11-30T00:00:00.123456789Z", "2026-11-30"),
        ("2026-11-31", None),
        ("30-11-2026", None),
        ("2026-11-3", None),
        ("2026-11-30X10:00:00", None),
        ("2026-11-30T", None),
        ("2026-11-30Tnoon", None),
        ("2026-11-30Tnonsense", None),
        ("20261130", None),
        ("2026-13-01", None),
        ("2026-11-31T10:00:00", None),
        ("", None),
        (None, None),
        (20261130, None),
    ],
)
def test_a_report_day_is_a_date_or_the_date_of_a_date_time(value: object, day: str | None) -> None:
    assert report_day(value) == day

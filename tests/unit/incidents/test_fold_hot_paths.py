"""The per-row and per-incident hot paths of a poll keep their meaning when made cheaper."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from exporter.incidents.fold import IncidentRow, unresolved_accumulator
from exporter.incidents.timestamps import parse_timestamp
from tests.support.rows import incident_row as row
from tests.support.rows import snapshot_of

UTC = timezone.utc


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-20T10:00:00+00:00", datetime(2026, 11, 20, 10, tzinfo=UTC)),
        ("2026-11-20T10:00:00Z", datetime(2026, 11, 20, 10, tzinfo=UTC)),
        ("2026-11-20T10:00:00.5z", datetime(2026, 11, 20, 10, 0, 0, 500000, tzinfo=UTC)),
        (" 2026-11-20T12:00:00.1234567+02:00 ", datetime(2026, 11, 20, 10, 0, 0, 123456, tzinfo=UTC)),
        ("2026-11-20T10:00:00", datetime(2026, 11, 20, 10, tzinfo=UTC)),
        ("2026-11-20T05:00:00-05:00", datetime(2026, 11, 20, 10, tzinfo=UTC)),
    ],
)
def test_timestamps_parse_to_aware_utc_on_the_fast_and_the_slow_path(text: str, expected: datetime) -> None:
    parsed = parse_timestamp(text)
    assert parsed == expected
    assert parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize("value", [None, "", "  ", "yesterday", 1732096800])
def test_unusable_timestamps_still_raise(value: object) -> None:
    with pytest.raises(ValueError):
        parse_timestamp(value)


def test_incident_rows_are_immutable() -> None:
    kept = IncidentRow("2026-11-20", "ds-a", "major", "reported", "2026-11-10T08:00:00Z")
    with pytest.raises(AttributeError):
        kept.status = "fixing"  # type: ignore[misc]


def test_the_newest_row_wins_whatever_the_page_order() -> None:
    rows = [row("a", f"2026-11-{day}", status=f"s{day}") for day in (17, 18, 19, 20)]
    forwards, backwards = unresolved_accumulator(), unresolved_accumulator()
    for page in ([rows[0], rows[1]], [rows[2], rows[3]]):
        forwards.add_rows(page)
    for page in ([rows[3], rows[2]], [rows[1], rows[0]]):
        backwards.add_rows(page)
    assert forwards.newest == backwards.newest
    assert forwards.newest["a"].status == "s20"
    assert forwards.max_report_date == backwards.max_report_date == "2026-11-20"


def test_a_bad_report_date_is_skipped_on_every_page() -> None:
    acc = unresolved_accumulator()
    acc.add_rows([row("x", "20-11-2026")])
    acc.add_rows([row("y", "20-11-2026"), row("z", "2026-11-20")])
    assert acc.skipped["bad_report_date"] == 2
    assert list(acc.newest) == ["z"]


def test_capped_info_keeps_ties_in_id_order_and_every_open_state() -> None:
    rows = [row(f"i{n}", "2026-11-20", created="2026-11-15T00:00:00Z", status="fixing") for n in (3, 1, 2)]
    rows.append(row("new", "2026-11-20", created="2026-11-19T00:00:00Z", severity="Critical"))
    snap = snapshot_of(rows, info_limit=2)
    assert [inc.incident_id for inc in snap.incidents] == ["new", "i1"]
    assert snap.incidents[0].severity == "critical"
    assert snap.info_truncated == 2
    assert snap.open_total == 4
    assert snap.open_states == {
        "i1": ("major", "fixing"),
        "i2": ("major", "fixing"),
        "i3": ("major", "fixing"),
        "new": ("critical", "reported"),
    }

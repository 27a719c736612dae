"""History backfill, pure part: Reporting API rows -> per-report-date counts -> OpenMetrics text.

Rows are folded page by page into per-date tallies (no raw row is kept), then each date is zero-filled
exactly as the live exporter zero-fills its snapshot, and rendered with one timestamped sample per date.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from typing import Any

from exporter.exposition import catalogue
from exporter.exposition.catalogue import MetricSpec
from exporter.incidents.fold import UNKNOWN_DATASET, mostly_unusable
from exporter.incidents.snapshot import midnight_utc, normalize
from exporter.incidents.snapshot import zero_filled as snapshot_zero_filled
from exporter.incidents.timestamps import parse_timestamp, report_day

DAY_SECONDS = 86400.0
# The Reporting API defaults a query to the last 31 days; longer ranges are queried in such chunks.
MAX_CHUNK_DAYS = 31
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


@dataclass
class DayTally:
    """What one report date's rows of one query add up to."""

    open: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    resolved: Counter[tuple[str, str]] = field(default_factory=Counter)
    datasets: set[str] = field(default_factory=set)
    severities: set[str] = field(default_factory=set)
    statuses: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class DayCounts:
    """The zero-filled open and resolved counts of one report date."""

    day: date
    open: Mapping[tuple[str, str, str], int]
    resolved: Mapping[tuple[str, str], int]


@lru_cache(maxsize=65536)
def _timestamp(value: str) -> float | None:
    # The same created_at / resolved_at text repeats on every report date of an incident.
    try:
        return parse_timestamp(value).timestamp()
    except ValueError:
        return None


def _seconds(value: Any) -> float | None:
    return _timestamp(value) if isinstance(value, str) else None


@lru_cache(maxsize=4096)
def _report_day(text: str) -> str | None:
    return report_day(text)


def end_of_day(day: date) -> float:
    """Unix timestamp of the midnight UTC that ends ``day``."""
    return midnight_utc(day + timedelta(days=1))


class DayAccumulator:
    """A PageSink for one query over one date range: folds rows into per-report-date tallies."""

    # Rows dated outside first..last count as seen (for the drift check) but are not tallied, so
    # overlapping answers never count a date twice. Skipped rows use the live exporter's reasons.

    def __init__(self, *, resolved: bool, first: date, last: date, resolved_window_seconds: float) -> None:
        self.resolved = resolved
        self.first = first.isoformat()
        self.last = last.isoformat()
        self.window = resolved_window_seconds
        self.days: dict[str, DayTally] = {}
        self.skipped: Counter[str] = Counter()
        self.outside_range = 0
        self._row_keys: set[int] = set()
        self._window_start: dict[str, float] = {}

    @property
    def distinct_rows(self) -> int:
        """Distinct (incident, report date) rows seen, counting a repeated row once."""
        return len(self._row_keys) + self.skipped["not_an_object"]

    def mostly_unusable(self) -> bool:
        """True when more than half the rows could not be counted at all, as in the live exporter."""
        return mostly_unusable(self.skipped, self.distinct_rows)

    def add_rows(self, rows: list[Any]) -> None:
        """Fold one page of rows into the tallies of their report dates."""
        for row in rows:
            if not isinstance(row, dict):
                self.skipped["not_an_object"] += 1
                continue
            incident_id = row.get("incident_id")
            report_date = row.get("report_date")
            key_hash = hash(row.get("incident_id_report_date_id") or f"{incident_id}/{report_date}")
            if key_hash in self._row_keys:
                continue
            self._row_keys.add(key_hash)
            day = _report_day(report_date) if isinstance(report_date, str) else None
            if not incident_id or not isinstance(incident_id, str):
                self.skipped["missing_incident_id"] += 1
            elif day is None:
                self.skipped["bad_report_date"] += 1
            elif not self.first <= day <= self.last:
                self.outside_range += 1
            else:
                dataset_id = row.get("dataset_id")
                if not dataset_id or not isinstance(dataset_id, str):
                    self.skipped["missing_dataset_id"] += 1  # a label: counted under "unknown"
                    dataset_id = UNKNOWN_DATASET
                self._tally(row, day, dataset_id)

    def _tally(self, row: dict[str, Any], report_date: str, dataset_id: str) -> None:
        tally = self.days.get(report_date)
        if tally is None:
            tally = self.days[report_date] = DayTally()
            self._window_start[report_date] = end_of_day(date.fromisoformat(report_date)) - self.window
        severity = normalize(row.get("severity"))
        status = normalize(row.get("status"))
        # Label sets grow from every well-formed row, as in the live exporter, even if the row is skipped.
        tally.datasets.add(dataset_id)
        tally.severities.add(severity)
        # created_at decides no count here (only ages, which backfill does not write): an unusable one
        # is counted by reason, and the row still counts, as in the live exporter.
        if _seconds(row.get("created_at")) is None:
            self.skipped["bad_created_at"] += 1
        if not self.resolved:
            if status == "resolved":  # contradicts the unresolved query: not open, as in the exporter
                self.skipped["bad_status"] += 1
                return
            tally.statuses.add(status)
            tally.open[(dataset_id, severity, status)] += 1
            return
        resolved_at = _seconds(row.get("resolved_at"))
        if resolved_at is None:
            self.skipped["bad_resolved_at"] += 1
        elif resolved_at >= self._window_start[report_date]:
            tally.resolved[(dataset_id, severity)] += 1


def zero_filled(day: date, unresolved: DayTally | None, resolved: DayTally | None) -> DayCounts:
    """One date's counts, zero-filled over its datasets x severities (x open statuses) like a snapshot."""
    tallies = [t for t in (unresolved, resolved) if t is not None]
    open_counts, resolved_counts, _ = snapshot_zero_filled(
        set().union(*(t.datasets for t in tallies)),
        set().union(*(t.severities for t in tallies)),
        unresolved.statuses if unresolved else (),
    )
    if unresolved is not None:
        open_counts.update(unresolved.open)
    if resolved is not None:
        resolved_counts.update(resolved.resolved)
    return DayCounts(day, open_counts, resolved_counts)


def build_days(unresolved: Mapping[str, DayTally], resolved: Mapping[str, DayTally]) -> list[DayCounts]:
    """Zero-filled counts for every report date present in either query, oldest first."""
    days = sorted(set(unresolved) | set(resolved))
    return [zero_filled(date.fromisoformat(d), unresolved.get(d), resolved.get(d)) for d in days]


def date_chunks(first: date, last: date, max_days: int = MAX_CHUNK_DAYS) -> list[tuple[date, date]]:
    """Split ``first``..``last`` (inclusive) into consecutive ranges of at most ``max_days`` dates."""
    chunks = []
    start = first
    while start <= last:
        end = min(last, start + timedelta(days=max_days - 1))
        chunks.append((start, end))
        start = end + timedelta(days=1)
    return chunks


def request_window(first: date, last: date) -> tuple[datetime, datetime]:
    """The from/to datetimes that bound report dates ``first``..``last``: 00:00:00 to 23:59:59 UTC."""
    return (
        datetime.combine(first, time(), tzinfo=timezone.utc),
        datetime.combine(last, time(23, 59, 59), tzinfo=timezone.utc),
    )


def check_label_name(name: str, reserved: Iterable[str]) -> None:
    """Raise ValueError unless ``name`` is a valid label name that the metrics do not use already."""
    if not _LABEL_NAME.match(name) or name.startswith("__"):
        raise ValueError(f"{name!r} is not a valid label name")
    if name in reserved:
        raise ValueError(f"{name!r} is a label the metrics set themselves")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _label_text(names: Sequence[str], values: Sequence[str]) -> str:
    return ",".join(f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True))


def _family(
    spec: MetricSpec,
    const_names: Sequence[str],
    points: Mapping[tuple[str, ...], list[tuple[float, int]]],
    step: float,
    until: float | None,
) -> Iterator[str]:
    name = spec.name
    names = spec.label_names(const_names)
    yield f"# HELP {name} {spec.backfill_help}\n# TYPE {name} {spec.type}\n"
    for labels in sorted(points):
        prefix = f"{name}{{{_label_text(names, labels)}}} "
        lines = []
        for start, value in points[labels]:
            at = start
            while at < start + DAY_SECONDS and (until is None or at <= until or at == start):
                lines.append(f"{prefix}{value} {int(at)}\n")
                at += step
        yield "".join(lines)


def render_openmetrics(
    days: Sequence[DayCounts],
    *,
    labels: Sequence[tuple[str, str]] = (),
    step_seconds: float = DAY_SECONDS,
    until: float | None = None,
) -> Iterator[str]:
    """OpenMetrics text of both families, each series' samples in time order, ending with ``# EOF``."""
    return render_labelled([(tuple(labels), days)], step_seconds=step_seconds, until=until)


def render_labelled(
    parts: Sequence[tuple[tuple[tuple[str, str], ...], Sequence[DayCounts]]],
    *,
    step_seconds: float = DAY_SECONDS,
    until: float | None = None,
) -> Iterator[str]:
    """Like render_openmetrics for several (labels, days) parts, e.g. one per organisation, in one file.

    Every part must have the same label names; each family is written once, holding every part's series.
    """
    # Samples are stamped at midnight UTC of their date; ``labels`` go first on every series. With a
    # step under a day each value repeats every step until the next date, but never after ``until``
    # (a date's midnight sample is always kept).
    if step_seconds < 1:
        raise ValueError("step must be at least one second")
    const_names = [name for name, _ in parts[0][0]] if parts else []
    open_points: dict[tuple[str, ...], list[tuple[float, int]]] = {}
    resolved_points: dict[tuple[str, ...], list[tuple[float, int]]] = {}
    for labels, days in parts:
        if [name for name, _ in labels] != const_names:
            raise ValueError("every part needs the same label names")
        const_values = tuple(value for _, value in labels)
        for counts in sorted(days, key=lambda c: c.day):
            at = midnight_utc(counts.day)
            for key, value in counts.open.items():
                open_points.setdefault(const_values + key, []).append((at, value))
            for key2, value in counts.resolved.items():
                resolved_points.setdefault(const_values + key2, []).append((at, value))
    step = float(int(step_seconds))
    yield from _family(catalogue.OPEN, const_names, open_points, step, until)
    yield from _family(catalogue.RESOLVED, const_names, resolved_points, step, until)
    yield "# EOF\n"

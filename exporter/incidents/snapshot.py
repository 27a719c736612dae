"""Pure functions from accumulated incident state to an immutable metrics snapshot (no I/O)."""

from __future__ import annotations

import bisect
import heapq
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any

from exporter.incidents.domain import OPEN_STATUSES, SEVERITIES
from exporter.incidents.fold import IncidentRow, RowAccumulator
from exporter.incidents.timestamps import parse_timestamp

UNKNOWN = "unknown"
_UNKNOWN_CREATED = float("inf")
DEFAULT_AGE_BUCKETS: tuple[float, ...] = tuple(
    float(s) for s in (3600, 21600, 43200, 86400, 172800, 259200, 604800, 1209600, 2592000,
                       7776000, 15552000, 31536000)
)  # fmt: skip


def normalize(value: Any) -> str:
    """Lower-case a severity or status; empty, missing, a JSON list or object becomes ``unknown``."""
    if value is None or isinstance(value, (list, dict)):
        return UNKNOWN
    text = str(value).strip().lower()
    return text or UNKNOWN


@dataclass(frozen=True)
class BucketCounts:
    """A gauge histogram: cumulative counts per upper bound (last is +Inf), and the sum."""

    buckets: tuple[tuple[float, int], ...]
    sum: float

    @property
    def count(self) -> int:
        """Number of observations."""
        return self.buckets[-1][1] if self.buckets else 0


@dataclass(frozen=True)
class OpenIncident:
    """One open incident, as shown by soda_incident_info."""

    incident_id: str
    title: str
    dataset_id: str
    check_name: str
    severity: str
    status: str
    lead_email: str
    created_at: float | None  # None when Soda's created_at was unusable: no created timestamp series


@dataclass(frozen=True)
class PollData:
    """What one complete poll cycle read: the two accumulators and the ETL refresh time."""

    unresolved: RowAccumulator
    resolved: RowAccumulator
    last_etl_refresh: datetime | None = None


@dataclass(frozen=True)
class SnapshotSettings:
    """Knobs that shape the snapshot."""

    resolved_window_seconds: float = 30 * 86400.0
    age_buckets: tuple[float, ...] = DEFAULT_AGE_BUCKETS
    info_limit: int = 500


@dataclass(frozen=True)
class Snapshot:
    """Everything /metrics shows about incidents, computed once per cycle and never mutated."""

    generated_at: float
    open_counts: Mapping[tuple[str, str, str], int]
    resolved_counts: Mapping[tuple[str, str], int]
    open_age: Mapping[str, BucketCounts]
    resolution_duration: Mapping[str, BucketCounts]
    incidents: tuple[OpenIncident, ...]
    info_truncated: int
    latest_report_date: date | None
    last_etl_refresh: datetime | None
    open_total: int
    resolved_total: int
    skipped: Mapping[str, int] = field(default_factory=dict)
    # (severity, status) of every open incident, uncapped: what an update would change is judged on it.
    open_states: Mapping[str, tuple[str, str]] = field(default_factory=dict)


def build_histogram(values: Iterable[float], bounds: Sequence[float]) -> BucketCounts:
    """Bucket ``values`` cumulatively under ``bounds`` plus +Inf."""
    counts = [0] * (len(bounds) + 1)
    total = 0.0
    for value in values:
        counts[bisect.bisect_left(bounds, value)] += 1
        total += value
    cumulative: list[tuple[float, int]] = []
    running = 0
    for bound, count in zip((*bounds, float("inf")), counts, strict=False):
        running += count
        cumulative.append((bound, running))
    return BucketCounts(tuple(cumulative), total)


def _parsed(value: Any) -> datetime | None:
    try:
        return parse_timestamp(value)
    except ValueError:
        return None


def _text(value: Any) -> str:
    return "" if value is None else str(value)


class _Normalized(dict[Any, str]):
    """normalize() memoised: a page of rows holds only a handful of distinct severities and statuses."""

    def __missing__(self, value: Any) -> str:
        self[value] = result = normalize(value)
        return result


class _States(dict[tuple[Any, Any], tuple[str, str]]):
    """Raw (severity, status) to the normalised pair, one tuple object per distinct pair."""

    def __init__(self, labels: _Normalized) -> None:
        super().__init__()
        self._labels = labels

    def __missing__(self, raw: tuple[Any, Any]) -> tuple[str, str]:
        self[raw] = pair = (self._labels[raw[0]], self._labels[raw[1]])
        return pair


def _epoch(value: Any) -> float | None:
    """Unix seconds of a Soda timestamp, or None when unusable (parse_timestamp's rules)."""
    if type(value) is str:
        try:  # Soda's usual text: an explicit offset, read as it is (parse_timestamp's own fast path)
            parsed = datetime.fromisoformat(value)
            if parsed.tzinfo is not None:
                return parsed.timestamp()
        except ValueError:
            pass
    parsed_or_none = _parsed(value)
    return None if parsed_or_none is None else parsed_or_none.timestamp()


def zero_filled(
    datasets: Iterable[str], severities: Iterable[str], statuses: Iterable[str]
) -> tuple[dict[tuple[str, str, str], int], dict[tuple[str, str], int], set[str]]:
    """Open and resolved series at 0 for every dataset x severity (x open status); and the severities.

    The known severities and open statuses are always there, plus any other (normalised) value seen.
    """
    ordered = sorted(set(datasets))
    severity_set = set(SEVERITIES) | set(severities)
    status_set = set(OPEN_STATUSES) | (set(statuses) - {"resolved"})
    # Keys in sorted order: the exposition sorts the series, and sorting what is sorted costs a tenth.
    by_severity, by_status = sorted(severity_set), sorted(status_set)
    open_counts = {(d, sev, st): 0 for d in ordered for sev in by_severity for st in by_status}
    resolved_counts = {(d, sev): 0 for d in ordered for sev in by_severity}
    return open_counts, resolved_counts, severity_set


def build_snapshot(data: PollData, now: datetime, settings: SnapshotSettings) -> Snapshot:
    """Compute the open/resolved view of the organisation as of ``now`` from one cycle's rows."""
    skipped: Counter[str] = Counter(data.unresolved.skipped) + Counter(data.resolved.skipped)
    # The current state is the newest report date present in the data. Taking it over both queries
    # means that when every incident was resolved on that date, nothing older is counted as open.
    latest = max(data.unresolved.max_report_date, data.resolved.max_report_date)
    open_counts, resolved_counts, severities = zero_filled(
        data.unresolved.datasets | data.resolved.datasets,
        {normalize(s) for s in data.unresolved.severities | data.resolved.severities},
        {normalize(s) for s in data.unresolved.statuses},
    )
    ages: dict[str, list[float]] = {sev: [] for sev in severities}
    now_ts = now.timestamp()
    labels = _Normalized()
    # One (severity, status) tuple per distinct raw pair: open_states holds one per open incident.
    states = _States(labels)
    # (-created, id, row): sorting these puts the newest first; only the shown ones become objects.
    # Incident ids are unique, so two entries never tie far enough to compare their rows.
    ranked: list[tuple[float, str, IncidentRow]] = []
    open_states: dict[str, tuple[str, str]] = {}
    bad_created = 0
    for incident_id, row in data.unresolved.newest.items():
        if row.report_date != latest:
            continue  # resolved or gone since its newest unresolved row
        state = states[row.severity, row.status]
        if state[1] == "resolved":
            # The row contradicts the unresolved query it came from; its own status says closed.
            skipped["bad_status"] += 1
            continue
        key = (row.dataset_id, *state)
        open_counts[key] = open_counts.get(key, 0) + 1
        created_ts = _epoch(row.created_at)
        if created_ts is None:
            # Still open: created_at only decides its age, so it is left out of the age metrics alone.
            bad_created += 1
            ranked.append((_UNKNOWN_CREATED, incident_id, row))  # ranked after every dated incident
        else:
            ages[state[0]].append(max(0.0, now_ts - created_ts))
            ranked.append((-created_ts, incident_id, row))
        open_states[incident_id] = state
    if bad_created:
        skipped["bad_created_at"] += bad_created
    limit = max(0, settings.info_limit)
    incidents = [
        OpenIncident(
            incident_id=incident_id,
            title=_text(row.title),
            dataset_id=row.dataset_id,
            check_name=_text(row.check_name),
            severity=open_states[incident_id][0],
            status=open_states[incident_id][1],
            lead_email=_text(row.lead_email),
            created_at=None if negative_created == _UNKNOWN_CREATED else -negative_created,
        )
        for negative_created, incident_id, row in heapq.nsmallest(limit, ranked)
    ]

    window_start = now_ts - settings.resolved_window_seconds
    durations: dict[str, list[float]] = {sev: [] for sev in severities}
    for incident_id, row in data.resolved.newest.items():
        if incident_id in open_states:
            continue  # reopened: its newest state is open
        resolved_at, created = _parsed(row.resolved_at), _parsed(row.created_at)
        if resolved_at is None:
            skipped["bad_resolved_at"] += 1  # resolved_at decides whether it is inside the window
            continue
        if created is None:
            skipped["bad_created_at"] += 1  # counted as resolved, left out of the duration histogram
        if resolved_at.timestamp() < window_start:
            continue
        severity = labels[row.severity]
        key2 = (row.dataset_id, severity)
        resolved_counts[key2] = resolved_counts.get(key2, 0) + 1
        if created is not None:
            durations[severity].append(max(0.0, (resolved_at - created).total_seconds()))

    return Snapshot(
        generated_at=now_ts,
        open_counts=open_counts,
        resolved_counts=resolved_counts,
        open_age={sev: build_histogram(v, settings.age_buckets) for sev, v in ages.items()},
        resolution_duration={sev: build_histogram(v, settings.age_buckets) for sev, v in durations.items()},
        incidents=tuple(incidents),
        info_truncated=max(0, len(ranked) - limit),
        latest_report_date=date.fromisoformat(latest) if latest else None,
        last_etl_refresh=data.last_etl_refresh,
        open_total=len(ranked),
        resolved_total=sum(resolved_counts.values()),
        skipped=dict(skipped),
        open_states=open_states,
    )


def midnight_utc(day: date) -> float:
    """Unix timestamp of midnight UTC at the start of ``day``."""
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp()

"""A simulated Soda Cloud organisation: its datasets and incidents, and the truth queries over them."""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from exporter.simulator.model import (
    RESOLVED,
    SEVERITIES,
    STATUSES,
    Dataset,
    Incident,
    IncidentState,
    StateChange,
    as_utc,
)
from exporter.simulator.rows import dataset_row, incident_row, stable_uuid

# (report date, incident, its state on that date)
RowKey = tuple[date, Incident, IncidentState]

_ONE_DAY = timedelta(days=1)
_CACHE_ENTRIES = 32


def end_of_day(day: date) -> datetime:
    """The last representable instant of the UTC day ``day``."""
    return datetime.combine(day + _ONE_DAY, time(), tzinfo=timezone.utc) - timedelta(microseconds=1)


def _wants_resolved(status: str) -> bool:
    wanted = status.strip().lower()
    if wanted not in ("resolved", "unresolved"):
        raise ValueError(f"status must be 'resolved' or 'unresolved', not {status!r}")
    return wanted == "resolved"


class Organisation:
    """One Soda Cloud organisation; thread-safe, mutate it through its methods (or call ``invalidate``)."""

    def __init__(
        self,
        *,
        organization_id: str,
        datasets: list[Dataset],
        incidents: list[Incident],
        now: datetime,
        etl_refresh_at: datetime | None = None,
        organisation_name: str = "Demo Org",
        etl_outage: timedelta = timedelta(0),
    ) -> None:
        self.organization_id = organization_id
        self.organisation_name = organisation_name
        self.datasets = datasets
        self.incidents = incidents
        self.now = as_utc(now)
        self._etl_refresh_at = None if etl_refresh_at is None else as_utc(etl_refresh_at)
        # How long Soda's nightly ETL has been down: the reporting data stops at now - etl_outage.
        self.etl_outage = etl_outage
        self._lock = threading.RLock()
        self._version = 0
        self._cache: OrderedDict[tuple[Any, ...], list[RowKey]] = OrderedDict()
        for incident in incidents:
            incident.changes.sort(key=lambda change: change.at)

    @property
    def data_as_of(self) -> datetime:
        """The instant the reporting data shows: ``now``, or the last ETL run before an outage."""
        return self.now - self.etl_outage if self.etl_outage else self.now

    @property
    def etl_refresh_at(self) -> datetime:
        """When the reporting data was last refreshed; defaults to ``now`` (the data is as fresh as now)."""
        refreshed = self.now if self._etl_refresh_at is None else self._etl_refresh_at
        # During an outage no ETL run happens, so nothing after the last run can have refreshed the data.
        return min(refreshed, self.data_as_of) if self.etl_outage else refreshed

    def set_etl_outage(self, outage: timedelta) -> None:
        """Stop the simulated ETL ``outage`` ago: report dates and the ETL time stay where it stopped."""
        with self._lock:
            self.etl_outage = outage
            self._version += 1

    def latest_report_date(self) -> date:
        """The most recent report date present in the data."""
        return self.data_as_of.date()

    def set_now(self, now: datetime) -> None:
        """Move the simulated clock."""
        with self._lock:
            self.now = as_utc(now)
            self._version += 1

    def invalidate(self) -> None:
        """Forget cached query results after mutating datasets or incidents directly."""
        with self._lock:
            self._version += 1
            self._cache.clear()

    def _data_changed(self) -> None:
        # The simulator refreshes its reporting data at once after a change, as if Soda's nightly ETL
        # had just run, so an ETL-aware poller sees the change on its next cycle.
        self._version += 1
        self._etl_refresh_at = max(self.etl_refresh_at, datetime.now(timezone.utc))

    def is_gone(self, incident: Incident) -> bool:
        """True once the incident is deleted: from then on it has no rows on any report date."""
        return incident.deleted_at is not None and incident.deleted_at <= self.data_as_of

    def state_on(self, incident: Incident, report_date: date) -> IncidentState | None:
        """The incident's row content on ``report_date`` (state at the end of that day, capped at now)."""
        if report_date > self.latest_report_date() or self.is_gone(incident):
            return None
        return incident.state_at(min(end_of_day(report_date), self.data_as_of))

    def incident_rows(
        self, status: str, from_dt: datetime, to_dt: datetime, dataset_ids: list[str] | None = None
    ) -> list[dict[str, Any]]:
        """All ``IncidentData`` rows the Reporting API holds for this filter, in the API's stable order."""
        keys = self._row_keys(status, from_dt, to_dt, dataset_ids)
        return [incident_row(self.organization_id, inc, state, day) for day, inc, state in keys]

    def incident_page(
        self,
        status: str,
        from_dt: datetime,
        to_dt: datetime,
        dataset_ids: list[str] | None,
        offset: int,
        limit: int,
    ) -> tuple[int, list[dict[str, Any]]]:
        """The total row count for this filter and the rows ``offset`` to ``offset + limit``."""
        keys = self._row_keys(status, from_dt, to_dt, dataset_ids)
        page = keys[max(offset, 0) : max(offset, 0) + max(limit, 0)]
        return len(keys), [incident_row(self.organization_id, inc, state, day) for day, inc, state in page]

    def open_incidents(self) -> list[IncidentState]:
        """Truth: the incidents with an unresolved row at the latest report date."""
        states = self._current_states()
        return [state for state in states if state.status != RESOLVED]

    def resolved_since(self, since: datetime) -> list[IncidentState]:
        """Truth: incidents resolved now whose resolution happened at or after ``since``."""
        since = as_utc(since)
        return [
            state
            for state in self._current_states()
            if state.status == RESOLVED and state.resolved_at is not None and state.resolved_at >= since
        ]

    def find_incident(self, incident_id: str) -> Incident | None:
        """The incident with this id unless it is unknown or deleted."""
        with self._lock:
            for incident in self.incidents:
                if incident.incident_id == incident_id and not self.is_gone(incident):
                    return incident
        return None

    def apply_update(
        self,
        incident_id: str,
        *,
        status: str | None = None,
        severity: str | None = None,
        title: str | None = None,
        description: str | None = None,
        resolution_notes: str | None = None,
    ) -> Incident:
        """Edit an incident as of ``now`` so the latest report date shows it; KeyError if unknown."""
        if status is not None and status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        if severity is not None and severity not in SEVERITIES:
            raise ValueError(f"unknown severity {severity!r}")
        with self._lock:
            incident = self.find_incident(incident_id)
            if incident is None:
                raise KeyError(incident_id)
            edits = (status, severity, title, description, resolution_notes)
            if all(edit is None for edit in edits):
                return incident  # nothing to change: leave the history (and last_updated) alone
            incident.add_change(StateChange(at=self.now, status=status, severity=severity, title=title))
            if description is not None:
                incident.description = description
            if resolution_notes is not None:
                incident.resolution_notes = resolution_notes
            self._data_changed()
            return incident

    def add_incident(self, incident: Incident) -> None:
        """Add an incident to the organisation."""
        with self._lock:
            incident.changes.sort(key=lambda change: change.at)
            self.incidents.append(incident)
            self._data_changed()

    def delete_incident(self, incident_id: str, at: datetime | None = None) -> None:
        """Delete an incident as of ``at`` (default now); KeyError if unknown."""
        with self._lock:
            incident = self.find_incident(incident_id)
            if incident is None:
                raise KeyError(incident_id)
            incident.deleted_at = self.now if at is None else as_utc(at)
            self._data_changed()

    def dataset_rows(self, dataset_ids: list[str] | None = None) -> list[dict[str, Any]]:
        """All ``DatasetsData`` rows, optionally only those of ``dataset_ids``."""
        failed: dict[str, int] = {}
        for state in self.open_incidents():
            failed[state.dataset_id] = failed.get(state.dataset_id, 0) + 1
        wanted = set(dataset_ids) if dataset_ids else None
        rows = []
        for dataset in self.datasets:
            if wanted is not None and dataset.dataset_id not in wanted:
                continue
            # A deterministic per-dataset scan time within the last day.
            minutes = int(stable_uuid("scan", dataset.dataset_id)[:4], 16) % 1440
            last_scan = self.now - timedelta(minutes=minutes)
            rows.append(
                dataset_row(self.organization_id, dataset, failed.get(dataset.dataset_id, 0), last_scan)
            )
        return rows

    def _fingerprint(self) -> tuple[Any, ...]:
        # Catches the common direct mutations (appending incidents or changes, deleting) without invalidate().
        changes = 0
        deleted = 0
        for incident in self.incidents:
            changes += len(incident.changes)
            if incident.deleted_at is not None:
                deleted += 1
        return (self._version, self.now, self.etl_outage, len(self.incidents), changes, deleted)

    def _current_states(self) -> list[IncidentState]:
        with self._lock:
            states = []
            for incident in sorted(self.incidents, key=lambda inc: inc.number):
                state = self.state_on(incident, self.latest_report_date())
                if state is not None:
                    states.append(state)
            return states

    def _row_keys(
        self, status: str, from_dt: datetime, to_dt: datetime, dataset_ids: list[str] | None
    ) -> list[RowKey]:
        resolved = _wants_resolved(status)
        first = as_utc(from_dt).date()
        last = min(as_utc(to_dt).date(), self.latest_report_date())
        wanted = tuple(sorted(set(dataset_ids))) if dataset_ids else None
        with self._lock:
            key = (resolved, first, last, wanted, self._fingerprint())
            cached = self._cache.get(key)
            if cached is None:
                cached = self._compute_row_keys(resolved, first, last, wanted)
                self._cache[key] = cached
                while len(self._cache) > _CACHE_ENTRIES:
                    self._cache.popitem(last=False)
            else:
                self._cache.move_to_end(key)
            return cached

    def _compute_row_keys(
        self, resolved: bool, first: date, last: date, wanted: tuple[str, ...] | None
    ) -> list[RowKey]:
        live = [inc for inc in self.incidents if not self.is_gone(inc)]
        if wanted is not None:
            wanted_set = set(wanted)
            live = [inc for inc in live if inc.dataset_id in wanted_set]
        if not live or first > last:
            return []
        # No incident exists before the earliest creation day: skip those dates.
        first = max(first, min(inc.created_at for inc in live).date())
        days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
        as_of = self.data_as_of
        cutoffs = [min(end_of_day(day), as_of) for day in days]
        buckets: list[list[RowKey]] = [[] for _ in days]
        for incident in sorted(live, key=lambda inc: inc.number):
            for index, state in enumerate(incident.states_at(cutoffs)):
                if state is not None and (state.status == RESOLVED) == resolved:
                    buckets[index].append((days[index], incident, state))
        return [row for bucket in buckets for row in bucket]

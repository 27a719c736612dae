"""Incident data model: datasets, incidents, their history of changes and their state at an instant."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

from exporter.incidents.domain import RESOLVED


def as_utc(when: datetime) -> datetime:
    """Return ``when`` as a tz-aware UTC datetime; naive values are taken to be UTC already."""
    if when.tzinfo is None:
        return when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc)


@dataclass(frozen=True)
class Dataset:
    """A dataset known to Soda Cloud, with the data source it belongs to."""

    dataset_id: str
    dataset_name: str
    dataset_label: str
    datasource_id: str
    datasource_name: str
    owner_email: str | None
    tags: tuple[str, ...] = ()
    number_of_rows: int = 0
    # Soda's custom attributes (each a list of strings), as (name, values) pairs: the dataset stays hashable.
    attributes: tuple[tuple[str, tuple[str, ...]], ...] = ()


@dataclass(frozen=True)
class StateChange:
    """One edit of an incident: the fields left as None did not change."""

    at: datetime
    status: str | None = None
    severity: str | None = None
    title: str | None = None


@dataclass(frozen=True, slots=True)
class IncidentState:
    """The incident as seen at one instant."""

    incident_id: str
    dataset_id: str
    title: str
    check_name: str
    severity: str
    status: str
    created_at: datetime
    resolved_at: datetime | None
    lead_email: str | None
    number: int
    check_id: str
    last_updated: datetime


@dataclass
class Incident:
    """An incident and its full history; ``severity``, ``status`` and ``title`` are the initial values."""

    incident_id: str
    number: int
    dataset_id: str
    check_id: str
    check_name: str
    title: str
    created_at: datetime
    severity: str
    status: str = "reported"
    lead_email: str | None = None
    reporter_email: str | None = None
    description: str = ""
    resolution_notes: str = ""
    changes: list[StateChange] = field(default_factory=list)
    deleted_at: datetime | None = None

    def state_at(self, when: datetime) -> IncidentState | None:
        """The state at ``when``, or None if the incident was not created yet or was deleted by then."""
        return self.states_at([when])[0]

    def states_at(self, instants: Sequence[datetime]) -> list[IncidentState | None]:
        """``state_at`` for each of ``instants`` (ascending) in one pass over the history."""
        folder = _Folder(self)
        states: list[IncidentState | None] = []
        for when in instants:
            if when < self.created_at or (self.deleted_at is not None and self.deleted_at <= when):
                states.append(None)
            else:
                states.append(folder.advance(when))
        return states

    @property
    def resolved_at(self) -> datetime | None:
        """Instant of the last transition into "resolved" still in force, None when not resolved."""
        return self.current_state().resolved_at

    def current_state(self) -> IncidentState:
        """The state after every recorded change, ignoring deletion."""
        return _Folder(self).advance(None)

    def add_change(self, change: StateChange) -> None:
        """Record ``change`` keeping ``changes`` sorted by instant (ties keep insertion order)."""
        index = len(self.changes)
        while index > 0 and self.changes[index - 1].at > change.at:
            index -= 1
        self.changes.insert(index, change)


class _Folder:
    """Replays an incident's changes forward in time, reusing the state object while nothing changes."""

    def __init__(self, incident: Incident) -> None:
        self._incident = incident
        self._next = 0
        self._status = incident.status
        self._severity = incident.severity
        self._title = incident.title
        # An incident created directly as resolved counts as resolved from its creation.
        self._resolved_at = incident.created_at if incident.status == RESOLVED else None
        self._last_updated = incident.created_at
        self._state: IncidentState | None = None

    def advance(self, until: datetime | None) -> IncidentState:
        """Apply the changes up to ``until`` inclusive (all of them for None) and return the state."""
        changes = self._incident.changes
        while self._next < len(changes) and (until is None or changes[self._next].at <= until):
            self._apply(changes[self._next])
            self._next += 1
            self._state = None
        if self._state is None:
            incident = self._incident
            self._state = IncidentState(
                incident_id=incident.incident_id,
                dataset_id=incident.dataset_id,
                title=self._title,
                check_name=incident.check_name,
                severity=self._severity,
                status=self._status,
                created_at=incident.created_at,
                resolved_at=self._resolved_at,
                lead_email=incident.lead_email,
                number=incident.number,
                check_id=incident.check_id,
                last_updated=self._last_updated,
            )
        return self._state

    def _apply(self, change: StateChange) -> None:
        if change.status is not None:
            if change.status != RESOLVED:
                self._resolved_at = None
            elif self._status != RESOLVED:
                self._resolved_at = change.at
            self._status = change.status
        if change.severity is not None:
            self._severity = change.severity
        if change.title is not None:
            self._title = change.title
        self._last_updated = max(self._last_updated, change.at)

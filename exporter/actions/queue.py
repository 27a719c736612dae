"""The webhook's bounded queue of incident updates, and its memory of updates the snapshot cannot show yet."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from exporter.incidents.snapshot import Snapshot
from exporter.soda.cloud import IncidentUpdate

# Soda refreshes reporting data once a day; after two days an update the snapshot still does not show
# was overridden by someone else, and the snapshot is the better judge again.
RECENT_TTL_SECONDS = 2 * 86400.0
RECENT_MAX_ENTRIES = 10_000


@dataclass(frozen=True)
class Job:
    """One update to send: which organisation and incident, the action that asked, what to set."""

    organization: str
    incident_id: str
    action: str
    update: IncidentUpdate
    received_at: float = field(default_factory=time.time, compare=False)

    @property
    def key(self) -> tuple[str, str, str, IncidentUpdate]:
        """Identity for de-duplication: the same change to the same incident."""
        return (self.organization, self.incident_id, self.action, self.update)


class QueueFull(Exception):
    """The queue has no room for every job of a request; none of them was queued."""


class UpdateQueue:
    """A bounded FIFO of jobs: a request's jobs are queued all or none, and a job already pending is not."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._jobs: deque[Job] = deque()
        self._pending: set[tuple[str, str, str, IncidentUpdate]] = set()  # queued or being sent
        self._cond = threading.Condition()

    def __len__(self) -> int:
        with self._cond:
            return len(self._jobs)

    def offer(self, jobs: Sequence[Job]) -> tuple[list[Job], list[Job]]:
        """Queue every job not already pending; return (queued, duplicates). QueueFull if they do not fit."""
        with self._cond:
            fresh: list[Job] = []
            duplicates: list[Job] = []
            seen: set[tuple[str, str, str, IncidentUpdate]] = set()
            for job in jobs:
                if job.key in self._pending or job.key in seen:
                    duplicates.append(job)
                else:
                    seen.add(job.key)
                    fresh.append(job)
            # All or none: Alertmanager re-sends the whole notification after a 503, and the jobs
            # queued from a partial acceptance would only come back as duplicates.
            if len(self._jobs) + len(fresh) > self.capacity:
                raise QueueFull(
                    f"{len(fresh)} update(s) do not fit: {len(self._jobs)}/{self.capacity} queued"
                )
            self._jobs.extend(fresh)
            self._pending.update(seen)
            self._cond.notify_all()
            return fresh, duplicates

    def take(self, timeout: float, organization: str | None = None) -> Job | None:
        """The oldest job (of ``organization``, if given), waiting up to ``timeout`` seconds.

        The job stays pending until ``done``.
        """
        with self._cond:
            job = self._pop(organization)
            if job is None:
                self._cond.wait(timeout)
                job = self._pop(organization)
            return job

    def _pop(self, organization: str | None) -> Job | None:
        if organization is None:
            return self._jobs.popleft() if self._jobs else None
        for index, job in enumerate(self._jobs):
            if job.organization == organization:
                del self._jobs[index]
                return job
        return None

    def wake(self) -> None:
        """Wake a worker waiting in ``take`` (it is stopping)."""
        with self._cond:
            self._cond.notify_all()

    def done(self, job: Job) -> None:
        """Forget a job that has been sent (or given up on)."""
        with self._cond:
            self._pending.discard(job.key)

    def drain(self) -> list[Job]:
        """Remove and return every queued job (at shutdown)."""
        with self._cond:
            jobs = list(self._jobs)
            self._jobs.clear()
            self._pending.clear()
            return jobs


@dataclass(frozen=True)
class Applied:
    """The (severity, status) Soda answered with after one of our updates, and when."""

    at: float
    severity: str
    status: str


class RecentUpdates:
    """What our own updates set, until the snapshot is fresh enough to show them.

    Soda's reporting data (and so the snapshot) lags behind updates, up to a day in production, while
    Alertmanager re-sends every firing alert of a group with each notification. Without this memory
    the same escalation would be sent again on every notification until the next refresh.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[str, str], Applied] = OrderedDict()

    def record(self, organization: str, incident_id: str, severity: str, status: str) -> None:
        """Remember the state Soda reported right after an update."""
        applied = Applied(self._clock(), severity.strip().lower(), status.strip().lower())
        with self._lock:
            self._entries[(organization, incident_id)] = applied
            self._entries.move_to_end((organization, incident_id))
            while len(self._entries) > RECENT_MAX_ENTRIES:
                self._entries.popitem(last=False)

    def current(self, organization: str, incident_id: str, snapshot: Snapshot) -> tuple[str, str] | None:
        """(severity, status) of an open incident: ours while the snapshot predates our update."""
        shown = snapshot.open_states.get(incident_id)
        if shown is None:
            return None
        # The snapshot reflects Soda as of its data refresh, or of its own poll when that is unknown.
        basis = snapshot.last_etl_refresh.timestamp() if snapshot.last_etl_refresh else snapshot.generated_at
        key = (organization, incident_id)
        with self._lock:
            applied = self._entries.get(key)
            if applied is None:
                return shown
            if applied.at <= basis or self._clock() - applied.at > RECENT_TTL_SECONDS:
                del self._entries[key]
                return shown
        return (applied.severity, applied.status)

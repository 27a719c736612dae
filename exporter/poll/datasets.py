"""Dataset names for the dashboards: refreshed at most every --datasets.interval, last good kept."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import structlog

from exporter.incidents.datasets import DatasetAccumulator, DatasetInfo
from exporter.incidents.teams import TeamSource
from exporter.soda.errors import SodaError
from exporter.soda.reporting import ReportingClient

log = structlog.get_logger("exporter.datasets")


class DatasetRefresher:
    """Pulls ``/coverage/datasets`` when due; a failure is reported, never raised, and old names stay."""

    def __init__(
        self,
        client: ReportingClient,
        interval_seconds: float,
        timeout_seconds: float,
        on_failure: Callable[[str], None],
        monotonic: Callable[[], float] = time.monotonic,
        team_from: Sequence[TeamSource] = (),
    ) -> None:
        self.client = client
        self.interval_seconds = interval_seconds
        self.timeout_seconds = timeout_seconds
        self._on_failure = on_failure
        self._monotonic = monotonic
        self._team_from = tuple(team_from)
        self._fetched_at: float | None = None
        self.datasets: tuple[DatasetInfo, ...] = ()

    @property
    def enabled(self) -> bool:
        """False when --datasets.interval is 0."""
        return self.interval_seconds > 0

    def due(self) -> bool:
        """True when the names were never read, or are older than the interval."""
        if not self.enabled:
            return False
        return self._fetched_at is None or self._monotonic() - self._fetched_at >= self.interval_seconds

    def refresh(self) -> bool:
        """Pull every page of datasets if due; return True when the names changed."""
        if not self.due():
            return False
        deadline = self._monotonic() + self.timeout_seconds
        try:
            sink = self.client.fetch_datasets(lambda: DatasetAccumulator(self._team_from), deadline=deadline)
        except SodaError as exc:  # CredentialsError too: its reason is "credentials"
            self._fail(exc.reason, str(exc))
            return False
        self._fetched_at = self._monotonic()
        fresh = tuple(sorted(sink.datasets.values(), key=lambda d: d.dataset_id))
        changed = fresh != self.datasets
        self.datasets = fresh
        return changed

    def _fail(self, reason: str, message: str) -> None:
        # Retry on the next cycle rather than after a whole interval.
        self._on_failure(reason)
        log.warning("dataset refresh failed; keeping the last good names", reason=reason, error=message)

"""What the HTTP side reads: published snapshots, readiness and each organisation's last poll outcome."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date, datetime

from exporter.accumulate import DatasetInfo
from exporter.collector import LabelledSnapshot, render_snapshots
from exporter.metrics import ExporterMetrics
from exporter.snapshot import Snapshot


@dataclass(frozen=True)
class PollOutcome:
    """How one poll cycle ended, for the landing page."""

    success: bool
    finished_at: float
    duration_seconds: float
    message: str
    open_incidents: int | None = None
    # The newest report date and ETL refresh of the data served (after a failure: of the snapshot kept),
    # so the landing page can show how stale Soda's data is.
    latest_report_date: date | None = None
    last_etl_refresh: datetime | None = None


class ExporterState:
    """Holds the last good snapshot per organisation and publishes their rendering atomically."""

    def __init__(self, metrics: ExporterMetrics) -> None:
        self.metrics = metrics
        self._lock = threading.Lock()
        self._snapshots: dict[str, LabelledSnapshot] = {}
        self._outcomes: dict[str, PollOutcome] = {}
        self._ready = threading.Event()

    @property
    def ready(self) -> bool:
        """True once any organisation has completed a successful cycle (its snapshot and soda_up set)."""
        return self._ready.is_set()

    def wait_ready(self, timeout: float) -> bool:
        """Block until ready or timeout; return readiness."""
        return self._ready.wait(timeout)

    def publish(
        self,
        organization: str,
        labels: tuple[tuple[str, str], ...],
        snapshot: Snapshot,
        datasets: tuple[DatasetInfo, ...] = (),
    ) -> None:
        """Replace one organisation's snapshot and re-render the exposition of all of them."""
        with self._lock:
            self._snapshots[organization] = LabelledSnapshot(labels, snapshot, datasets)
            ordered = [self._snapshots[name] for name in sorted(self._snapshots)]
            self.metrics.publish(render_snapshots(ordered))

    def snapshot(self, organization: str) -> Snapshot | None:
        """The snapshot currently served for ``organization``."""
        item = self._snapshots.get(organization)
        return item.snapshot if item else None

    def record_outcome(self, organization: str, outcome: PollOutcome) -> None:
        """Remember how the last cycle of ``organization`` ended."""
        with self._lock:
            self._outcomes[organization] = outcome
        self.metrics.invalidate_live()  # the cycle's counters and gauges show on the very next scrape
        if outcome.success:
            self._ready.set()

    def outcomes(self) -> dict[str, PollOutcome]:
        """Last outcome per organisation."""
        with self._lock:
            return dict(self._outcomes)

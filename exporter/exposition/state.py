"""The exposition cache: what pollers publish and the HTTP side reads, scrape bodies, readiness, outcomes."""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from prometheus_client import generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics

from exporter.exposition.collector import (
    EMPTY_EXPOSITION,
    OM_EOF,
    Exposition,
    LabelledSnapshot,
    render_snapshots,
)
from exporter.exposition.metrics import ExporterMetrics
from exporter.incidents.datasets import DatasetInfo
from exporter.incidents.snapshot import Snapshot

# Scrapes reuse the live metrics' rendering for this long (each cycle's end refreshes it at once):
# rendering them costs far more than sending the whole pre-rendered snapshot.
LIVE_MAX_AGE_SECONDS = 1.0


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
    """The one exposition cache: the last good snapshot per organisation, rendered once per publish.

    Pollers publish into it; the server reads each scrape's body from it directly, the live
    self-metrics (re-rendered at most every LIVE_MAX_AGE_SECONDS) followed by the snapshot bytes.
    """

    def __init__(self, metrics: ExporterMetrics, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.metrics = metrics
        self._monotonic = monotonic
        self._exposition = EMPTY_EXPOSITION
        self._live: dict[tuple[bool, bool], tuple[float, bytes]] = {}
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
            self._exposition = render_snapshots(ordered)  # scrapes see the old or the new, whole

    def snapshot(self, organization: str) -> Snapshot | None:
        """The snapshot currently served for ``organization``."""
        item = self._snapshots.get(organization)
        return item.snapshot if item else None

    def record_outcome(self, organization: str, outcome: PollOutcome) -> None:
        """Remember how the last cycle of ``organization`` ended."""
        with self._lock:
            self._outcomes[organization] = outcome
        self.invalidate_live()  # the cycle's counters and gauges show on the very next scrape
        if outcome.success:
            self._ready.set()

    def outcomes(self) -> dict[str, PollOutcome]:
        """Last outcome per organisation."""
        with self._lock:
            return dict(self._outcomes)

    @property
    def exposition(self) -> Exposition:
        """The currently published snapshot bytes."""
        return self._exposition

    def invalidate_live(self) -> None:
        """Drop the cached live bytes, so the next scrape renders them afresh (e.g. after a cycle)."""
        self._live = {}

    def _live_bytes(self, openmetrics: bool, gzipped: bool) -> bytes:
        """The live metrics rendered at most LIVE_MAX_AGE_SECONDS ago, in the asked-for encoding."""
        key = (openmetrics, gzipped)
        cached = self._live.get(key)
        now = self._monotonic()
        if cached is not None and now - cached[0] < LIVE_MAX_AGE_SECONDS:
            return cached[1]
        if openmetrics:
            live: bytes = generate_openmetrics(self.metrics.registry)
            live = live[: -len(OM_EOF)] if live.endswith(OM_EOF) else live
        else:
            live = generate_latest(self.metrics.registry)
        if gzipped:
            # Two gzip members concatenated form one valid gzip stream (RFC 1952, section 2.2).
            live = gzip.compress(live, compresslevel=1)
        self._live[key] = (now, live)
        return live

    def scrape_parts(self, *, openmetrics: bool, gzipped: bool) -> tuple[bytes, bytes]:
        """The /metrics body as (live metrics, snapshot bytes), to be sent back to back without copying."""
        exposition = self._exposition  # one read, so a concurrent publish cannot mix two snapshots
        if openmetrics:
            snapshot = exposition.openmetrics_gzip if gzipped else exposition.openmetrics
        else:
            snapshot = exposition.text_gzip if gzipped else exposition.text
        return self._live_bytes(openmetrics, gzipped), snapshot

    def scrape(self, *, openmetrics: bool, gzipped: bool) -> bytes:
        """Return the whole /metrics body: live metrics, then the snapshot bytes."""
        return b"".join(self.scrape_parts(openmetrics=openmetrics, gzipped=gzipped))

"""The exporter's own live metrics, and the scrape output that joins them to the pre-rendered snapshot."""

from __future__ import annotations

import gzip
import platform
import threading
from collections.abc import Sequence
from typing import TypeVar

from prometheus_client import (
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics

from exporter import __version__
from exporter.collector import EMPTY_EXPOSITION, OM_EOF, Exposition
from exporter.soda.errors import FAILURE_REASONS

# The _created series of counters add nothing for an exporter's users and double the counter lines.
disable_created_metrics()

MetricT = TypeVar("MetricT", Counter, Gauge, Histogram)


def labelled(metric: MetricT, values: Sequence[str]) -> MetricT:
    """The child for ``values``, or the metric itself when it has no labels (single organisation)."""
    return metric.labels(*values) if values else metric


POLL_DURATION_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300)


class ExporterMetrics:
    """Counters and gauges about the exporter itself, updated live, rendered on every scrape."""

    def __init__(self, const_label_names: Sequence[str] = ()) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(PROCESS_COLLECTOR)
        self.registry.register(PLATFORM_COLLECTOR)
        names = list(const_label_names)
        self.label_names = tuple(names)
        reg = self.registry
        self.up = Gauge(
            "soda_up", "1 when the last poll cycle of Soda Cloud succeeded, else 0.", names, registry=reg
        )
        self.last_success = Gauge(
            "soda_exporter_last_success_timestamp_seconds",
            "When the last successful poll cycle finished.",
            names,
            registry=reg,
        )
        self.poll_duration = Histogram(
            "soda_exporter_poll_duration_seconds",
            "Wall time of poll cycles, successful or not.",
            names,
            buckets=POLL_DURATION_BUCKETS,
            registry=reg,
        )
        self.polls = Counter("soda_exporter_polls", "Poll cycles started.", names, registry=reg)
        self.poll_failures = Counter(
            "soda_exporter_poll_failures",
            "Poll cycles that failed, by reason.",
            [*names, "reason"],
            registry=reg,
        )
        self.api_requests = Counter(
            "soda_exporter_api_requests",
            "HTTP requests made to Soda Cloud, by endpoint and status code (retries included).",
            [*names, "endpoint", "code"],
            registry=reg,
        )
        self.rows_skipped = Counter(
            "soda_exporter_rows_skipped",
            "Reporting API rows skipped because a field was unusable, by reason.",
            [*names, "reason"],
            registry=reg,
        )
        self.dataset_failures = Counter(
            "soda_exporter_dataset_refresh_failures",
            "Failed refreshes of dataset names (incident metrics are not affected), by reason.",
            [*names, "reason"],
            registry=reg,
        )
        self.polls_skipped = Counter(
            "soda_exporter_polls_skipped",
            "Incident pulls saved because Soda's ETL had not refreshed since the last one.",
            names,
            registry=reg,
        )
        Info("soda_exporter_build", "Version of the exporter and of Python.", registry=reg).info(
            {"version": __version__, "python_version": platform.python_version()}
        )
        self._exposition = EMPTY_EXPOSITION
        self._lock = threading.Lock()

    def init_organization(self, values: Sequence[str]) -> None:
        """Create an organisation's series at zero, so rate() and absent() work from the first scrape."""
        labelled(self.up, values).set(0)
        labelled(self.polls, values)
        labelled(self.polls_skipped, values)
        labelled(self.poll_duration, values)
        for reason in FAILURE_REASONS:
            self.poll_failures.labels(*values, reason)

    def publish(self, exposition: Exposition) -> None:
        """Swap in the pre-rendered snapshot bytes; scrapes see either the old or the new, whole."""
        self._exposition = exposition

    @property
    def exposition(self) -> Exposition:
        """The currently published snapshot bytes."""
        return self._exposition

    def scrape(self, *, openmetrics: bool, gzipped: bool) -> bytes:
        """Return the whole /metrics body: live metrics rendered now, then the snapshot bytes."""
        exposition = self._exposition  # one read, so a concurrent publish cannot mix two snapshots
        if openmetrics:
            live: bytes = generate_openmetrics(self.registry)
            live = live[: -len(OM_EOF)] if live.endswith(OM_EOF) else live
            if gzipped:
                return gzip.compress(live, compresslevel=1) + exposition.openmetrics_gzip
            return live + exposition.openmetrics
        live = generate_latest(self.registry)
        if gzipped:
            # Two gzip members concatenated form one valid gzip stream (RFC 1952, section 2.2).
            return gzip.compress(live, compresslevel=1) + exposition.text_gzip
        return live + exposition.text

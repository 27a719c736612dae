"""The exporter's own live metrics, and the scrape output that joins them to the pre-rendered snapshot."""

from __future__ import annotations

import gzip
import platform
import time
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
from exporter.exposition.collector import EMPTY_EXPOSITION, OM_EOF, Exposition
from exporter.incidents.domain import SKIP_REASONS
from exporter.soda.errors import FAILURE_REASONS

# What exporter.web.basic_auth answers when a request fails its check (label values of the auth counter).
BASIC_AUTH_FAILURE_REASONS = ("missing", "malformed", "unknown_user", "wrong_password", "throttled")
WEB_AUTH_FAILURE_REASONS = (*BASIC_AUTH_FAILURE_REASONS, "client_certificate")

# The _created series of counters add nothing for an exporter's users and double the counter lines.
disable_created_metrics()

MetricT = TypeVar("MetricT", Counter, Gauge, Histogram)


def labelled(metric: MetricT, values: Sequence[str]) -> MetricT:
    """The child for ``values``, or the metric itself when it has no labels (single organisation)."""
    return metric.labels(*values) if values else metric


# Scrapes reuse the live metrics' rendering for this long (each cycle's end refreshes it at once):
# rendering them costs far more than sending the whole pre-rendered snapshot.
LIVE_MAX_AGE_SECONDS = 1.0
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
        self.web_auth_failures = Counter(
            "soda_exporter_web_auth_failures",
            "Requests and client certificates the --web.config.file refused, by reason.",
            ["reason"],
            registry=reg,
        )
        for reason in WEB_AUTH_FAILURE_REASONS:
            self.web_auth_failures.labels(reason)
        self.web_config_reload_ok = Gauge(
            "soda_exporter_web_config_last_reload_successful",
            "1 when the last (re)load of --web.config.file succeeded or none is used, 0 when the file in "
            "force is an older good version.",
            registry=reg,
        )
        self.web_config_reload_ok.set(1)
        Info("soda_exporter_build", "Version of the exporter and of Python.", registry=reg).info(
            {"version": __version__, "python_version": platform.python_version()}
        )
        self._exposition = EMPTY_EXPOSITION
        self._live: dict[tuple[bool, bool], tuple[float, bytes]] = {}

    def init_organization(self, values: Sequence[str]) -> None:
        """Create an organisation's series at zero, so rate() and absent() work from the first scrape."""
        labelled(self.up, values).set(0)
        labelled(self.polls, values)
        labelled(self.polls_skipped, values)
        labelled(self.poll_duration, values)
        for reason in FAILURE_REASONS:
            self.poll_failures.labels(*values, reason)
            self.dataset_failures.labels(*values, reason)
        for reason in SKIP_REASONS:
            self.rows_skipped.labels(*values, reason)

    def publish(self, exposition: Exposition) -> None:
        """Swap in the pre-rendered snapshot bytes; scrapes see either the old or the new, whole."""
        self._exposition = exposition

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
        now = time.monotonic()
        if cached is not None and now - cached[0] < LIVE_MAX_AGE_SECONDS:
            return cached[1]
        if openmetrics:
            live: bytes = generate_openmetrics(self.registry)
            live = live[: -len(OM_EOF)] if live.endswith(OM_EOF) else live
        else:
            live = generate_latest(self.registry)
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

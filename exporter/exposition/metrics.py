"""The exporter's own live metrics: poll outcomes, API requests, skipped rows, web auth, build info."""

from __future__ import annotations

import platform
from collections.abc import Iterator, Sequence
from typing import TypeVar

from prometheus_client import (
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
)
from prometheus_client.metrics_core import Metric

from exporter import __version__
from exporter.incidents.domain import SKIP_REASONS
from exporter.soda.errors import FAILURE_REASONS

# What exporter.web.basic_auth answers when a request fails its check (label values of the auth counter).
BASIC_AUTH_FAILURE_REASONS = ("missing", "malformed", "unknown_user", "wrong_password", "throttled")
WEB_AUTH_FAILURE_REASONS = (*BASIC_AUTH_FAILURE_REASONS, "client_certificate")

# Metric types whose samples include a _created series.
_WITH_CREATED = ("counter", "histogram", "summary")


class SelfMetricsRegistry(CollectorRegistry):
    """A registry that leaves out the _created series of its counters and histograms.

    They add nothing for an exporter's users and double the counter lines. Dropping them here, not
    with prometheus_client's process-wide disable_created_metrics(), keeps importing this module
    free of side effects and leaves every other registry as it is.
    """

    def collect(self) -> Iterator[Metric]:
        """The registered metrics, without their _created samples."""
        for metric in super().collect():
            if metric.type in _WITH_CREATED:
                metric.samples = [s for s in metric.samples if not s.name.endswith("_created")]
            yield metric


MetricT = TypeVar("MetricT", Counter, Gauge, Histogram)


def labelled(metric: MetricT, values: Sequence[str]) -> MetricT:
    """The child for ``values``, or the metric itself when it has no labels (single organisation)."""
    return metric.labels(*values) if values else metric


POLL_DURATION_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300)


class ExporterMetrics:
    """Counters and gauges about the exporter itself, updated live, rendered on every scrape."""

    def __init__(self, const_label_names: Sequence[str] = ()) -> None:
        self.registry = SelfMetricsRegistry(auto_describe=True)
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

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
from exporter.exposition import catalogue
from exporter.exposition.catalogue import MetricSpec
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


def _counter(spec: MetricSpec, const: Sequence[str], registry: CollectorRegistry) -> Counter:
    """A counter as the catalogue describes it."""
    return Counter(spec.base, spec.help, spec.label_names(const), registry=registry)


def _gauge(spec: MetricSpec, const: Sequence[str], registry: CollectorRegistry) -> Gauge:
    """A gauge as the catalogue describes it."""
    return Gauge(spec.base, spec.help, spec.label_names(const), registry=registry)


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
        self.up = _gauge(catalogue.UP, names, reg)
        self.last_success = _gauge(catalogue.LAST_SUCCESS, names, reg)
        spec = catalogue.POLL_DURATION
        self.poll_duration = Histogram(
            spec.base, spec.help, spec.label_names(names), buckets=POLL_DURATION_BUCKETS, registry=reg
        )
        self.polls = _counter(catalogue.POLLS, names, reg)
        self.poll_failures = _counter(catalogue.POLL_FAILURES, names, reg)
        self.api_requests = _counter(catalogue.API_REQUESTS, names, reg)
        self.rows_skipped = _counter(catalogue.ROWS_SKIPPED, names, reg)
        self.dataset_failures = _counter(catalogue.DATASET_REFRESH_FAILURES, names, reg)
        self.polls_skipped = _counter(catalogue.POLLS_SKIPPED, names, reg)
        self.web_auth_failures = _counter(catalogue.WEB_AUTH_FAILURES, names, reg)
        for reason in WEB_AUTH_FAILURE_REASONS:
            self.web_auth_failures.labels(reason)
        self.web_config_reload_ok = _gauge(catalogue.WEB_CONFIG_RELOAD_OK, names, reg)
        self.web_config_reload_ok.set(1)
        build = catalogue.BUILD_INFO
        Info(build.base, build.help, registry=reg).info(
            dict(zip(build.labels, (__version__, platform.python_version()), strict=True))
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

"""A custom Collector over published snapshots, and the once-per-cycle rendering of its exposition."""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeHistogramMetricFamily, GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from exporter.exposition import catalogue
from exporter.exposition.catalogue import MetricSpec
from exporter.incidents.fold import DatasetInfo
from exporter.incidents.snapshot import BucketCounts, Snapshot, midnight_utc

OM_EOF = b"# EOF\n"


@dataclass(frozen=True)
class LabelledSnapshot:
    """A snapshot and the constant labels (e.g. organization) its series carry."""

    labels: tuple[tuple[str, str], ...]
    snapshot: Snapshot
    datasets: tuple[DatasetInfo, ...] = ()


def _gauge(spec: MetricSpec, const: Sequence[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(spec.name, spec.served_help, labels=spec.label_names(const))


def _gauge_histogram(spec: MetricSpec, const: Sequence[str]) -> GaugeHistogramMetricFamily:
    return GaugeHistogramMetricFamily(spec.name, spec.served_help, labels=spec.label_names(const))


def _add_histogram(family: GaugeHistogramMetricFamily, values: list[str], hist: BucketCounts) -> None:
    buckets = [(floatToGoString(bound), float(count)) for bound, count in hist.buckets]
    family.add_metric(values, buckets, hist.sum)


class SnapshotCollector(Collector):
    """Yields incident metric families from whatever snapshots ``source`` returns at collect time."""

    def __init__(self, source: Callable[[], Sequence[LabelledSnapshot]]) -> None:
        self._source = source

    def collect(self) -> Iterator[Metric]:
        """Build every incident family from the current snapshots."""
        items = list(self._source())
        if not items:
            return
        const = [name for name, _ in items[0].labels]
        open_f = _gauge(catalogue.OPEN, const)
        resolved_f = _gauge(catalogue.RESOLVED, const)
        age_f = _gauge_histogram(catalogue.OPEN_AGE, const)
        duration_f = _gauge_histogram(catalogue.RESOLUTION_DURATION, const)
        # An info family's own labels are the keys of each sample's dict, so only the constant ones go here.
        info_f = InfoMetricFamily(
            catalogue.INCIDENT_INFO.base, catalogue.INCIDENT_INFO.served_help, labels=const
        )
        created_f = _gauge(catalogue.INCIDENT_CREATED, const)
        truncated_f = _gauge(catalogue.INFO_TRUNCATED, const)
        report_f = _gauge(catalogue.REPORT_DATE, const)
        etl_f = _gauge(catalogue.LAST_ETL_REFRESH, const)
        dataset_f = InfoMetricFamily(
            catalogue.DATASET_INFO.base, catalogue.DATASET_INFO.served_help, labels=const
        )
        for item in items:
            c = [value for _, value in item.labels]
            for ds in item.datasets:
                dataset_values = (
                    ds.dataset_id,
                    ds.dataset_name,
                    ds.dataset_label,
                    ds.datasource_name,
                    ds.owner_email,
                    ds.team,
                )
                dataset_f.add_metric(c, dict(zip(catalogue.DATASET_INFO.labels, dataset_values, strict=True)))
            snap = item.snapshot
            for (dataset, severity, status), count in sorted(snap.open_counts.items()):
                open_f.add_metric([*c, dataset, severity, status], count)
            for (dataset, severity), count in sorted(snap.resolved_counts.items()):
                resolved_f.add_metric([*c, dataset, severity], count)
            for severity, hist in sorted(snap.open_age.items()):
                _add_histogram(age_f, [*c, severity], hist)
            for severity, hist in sorted(snap.resolution_duration.items()):
                _add_histogram(duration_f, [*c, severity], hist)
            for inc in snap.incidents:
                values = (
                    inc.incident_id,
                    inc.title,
                    inc.dataset_id,
                    inc.check_name,
                    inc.severity,
                    inc.status,
                    inc.lead_email,
                )
                info_f.add_metric(c, dict(zip(catalogue.INCIDENT_INFO.labels, values, strict=True)))
                if inc.created_at is not None:
                    created_f.add_metric([*c, inc.incident_id], inc.created_at)
            truncated_f.add_metric(c, snap.info_truncated)
            if snap.latest_report_date is not None:
                report_f.add_metric(c, midnight_utc(snap.latest_report_date))
            if snap.last_etl_refresh is not None:
                etl_f.add_metric(c, snap.last_etl_refresh.timestamp())
        yield from (open_f, age_f, resolved_f, duration_f, info_f, created_f, truncated_f, report_f, etl_f)
        if any(item.datasets for item in items):
            yield dataset_f


@dataclass(frozen=True)
class Exposition:
    """Pre-rendered bytes of the snapshot families, in both formats, plain and gzipped.

    The OpenMetrics bytes end with ``# EOF``, so live metrics are placed before them.
    """

    text: bytes
    text_gzip: bytes
    openmetrics: bytes
    openmetrics_gzip: bytes


EMPTY_EXPOSITION = Exposition(b"", b"", OM_EOF, gzip.compress(OM_EOF, compresslevel=6))


def render_snapshots(items: Sequence[LabelledSnapshot]) -> Exposition:
    """Render the snapshot families once, through prometheus_client's own encoders."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(lambda: items))
    text = generate_latest(registry)
    om = generate_openmetrics(registry)
    return Exposition(
        text=text,
        text_gzip=gzip.compress(text, compresslevel=6),
        openmetrics=om,
        openmetrics_gzip=gzip.compress(om, compresslevel=6),
    )

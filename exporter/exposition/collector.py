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

from exporter.incidents.fold import DatasetInfo
from exporter.incidents.snapshot import BucketCounts, Snapshot, midnight_utc

CACHED = "Cached from the last successful poll of the Soda Cloud Reporting API."
OM_EOF = b"# EOF\n"


@dataclass(frozen=True)
class LabelledSnapshot:
    """A snapshot and the constant labels (e.g. organization) its series carry."""

    labels: tuple[tuple[str, str], ...]
    snapshot: Snapshot
    datasets: tuple[DatasetInfo, ...] = ()


def _gauge(name: str, doc: str, labels: Sequence[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, f"{doc} {CACHED}", labels=list(labels))


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
        open_f = _gauge(
            "soda_incidents_open",
            "Open incidents by dataset, severity and status (zero-filled).",
            [*const, "dataset_id", "severity", "status"],
        )
        resolved_f = _gauge(
            "soda_incidents_resolved",
            "Incidents resolved inside the resolved window, by dataset and severity.",
            [*const, "dataset_id", "severity"],
        )
        age_f = GaugeHistogramMetricFamily(
            "soda_incident_open_age_seconds",
            f"Age of open incidents (now - created_at), by severity. {CACHED}",
            labels=[*const, "severity"],
        )
        duration_f = GaugeHistogramMetricFamily(
            "soda_incident_resolution_duration_seconds",
            f"Time from creation to resolution of incidents resolved inside the window. {CACHED}",
            labels=[*const, "severity"],
        )
        info_f = InfoMetricFamily(
            "soda_incident",
            f"One series per open incident, newest first, capped by --incident-info.limit. {CACHED}",
            labels=const,
        )
        created_f = _gauge(
            "soda_incident_created_timestamp_seconds",
            "Creation time of the incidents shown by soda_incident_info.",
            [*const, "incident_id"],
        )
        truncated_f = _gauge(
            "soda_incident_info_truncated", "Open incidents left out of soda_incident_info by the cap.", const
        )
        report_f = _gauge(
            "soda_reporting_report_date_timestamp_seconds",
            "Latest report date present in the data (midnight UTC).",
            const,
        )
        etl_f = _gauge(
            "soda_reporting_last_etl_refresh_timestamp_seconds",
            "When Soda last refreshed the Reporting API data.",
            const,
        )
        dataset_f = InfoMetricFamily(
            "soda_dataset",
            f"Names, data source, owner and team of each dataset, from /coverage/datasets. {CACHED}",
            labels=const,
        )
        for item in items:
            c = [value for _, value in item.labels]
            for ds in item.datasets:
                dataset_f.add_metric(
                    c,
                    {
                        "dataset_id": ds.dataset_id,
                        "dataset_name": ds.dataset_name,
                        "dataset_label": ds.dataset_label,
                        "datasource_name": ds.datasource_name,
                        "owner_email": ds.owner_email,
                        "team": ds.team,
                    },
                )
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
                info_f.add_metric(
                    c,
                    {
                        "incident_id": inc.incident_id,
                        "title": inc.title,
                        "dataset_id": inc.dataset_id,
                        "check_name": inc.check_name,
                        "severity": inc.severity,
                        "status": inc.status,
                        "lead_email": inc.lead_email,
                    },
                )
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

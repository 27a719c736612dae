"""The incident families of published snapshots: a custom Collector, and their once-per-cycle rendering."""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from prometheus_client.core import GaugeHistogramMetricFamily, GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from exporter.exposition.writer import GAUGE, GAUGE_HISTOGRAM, INFO, Families
from exporter.incidents.fold import DatasetInfo
from exporter.incidents.snapshot import BucketCounts, OpenIncident, Snapshot, midnight_utc

CACHED = "Cached from the last successful poll of the Soda Cloud Reporting API."
OM_EOF = b"# EOF\n"


@dataclass(frozen=True)
class LabelledSnapshot:
    """A snapshot and the constant labels (e.g. organization) its series carry."""

    labels: tuple[tuple[str, str], ...]
    snapshot: Snapshot
    datasets: tuple[DatasetInfo, ...] = ()


# (name, help) of each family, shared by the collector and the renderer so they cannot drift apart.
OPEN = ("soda_incidents_open", "Open incidents by dataset, severity and status (zero-filled).")
RESOLVED = (
    "soda_incidents_resolved",
    "Incidents resolved inside the resolved window, by dataset and severity.",
)
AGE = ("soda_incident_open_age_seconds", "Age of open incidents (now - created_at), by severity.")
DURATION = (
    "soda_incident_resolution_duration_seconds",
    "Time from creation to resolution of incidents resolved inside the window.",
)
INFO_F = ("soda_incident", "One series per open incident, newest first, capped by --incident-info.limit.")
CREATED = (
    "soda_incident_created_timestamp_seconds",
    "Creation time of the incidents shown by soda_incident_info.",
)
TRUNCATED = ("soda_incident_info_truncated", "Open incidents left out of soda_incident_info by the cap.")
REPORT = (
    "soda_reporting_report_date_timestamp_seconds",
    "Latest report date present in the data (midnight UTC).",
)
ETL = (
    "soda_reporting_last_etl_refresh_timestamp_seconds",
    "When Soda last refreshed the Reporting API data.",
)
DATASET = ("soda_dataset", "Names, data source, owner and team of each dataset, from /coverage/datasets.")


def _gauge(family: tuple[str, str], labels: Sequence[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(family[0], f"{family[1]} {CACHED}", labels=list(labels))


def _histogram(family: tuple[str, str], labels: Sequence[str]) -> GaugeHistogramMetricFamily:
    return GaugeHistogramMetricFamily(family[0], f"{family[1]} {CACHED}", labels=list(labels))


def _info(family: tuple[str, str], labels: Sequence[str]) -> InfoMetricFamily:
    return InfoMetricFamily(family[0], f"{family[1]} {CACHED}", labels=list(labels))


def _buckets(hist: BucketCounts) -> list[tuple[str, float]]:
    return [(floatToGoString(bound), float(count)) for bound, count in hist.buckets]


def _dataset_labels(ds: DatasetInfo) -> dict[str, str]:
    return {
        "dataset_id": ds.dataset_id,
        "dataset_name": ds.dataset_name,
        "dataset_label": ds.dataset_label,
        "datasource_name": ds.datasource_name,
        "owner_email": ds.owner_email,
        "team": ds.team,
    }


def _incident_labels(inc: OpenIncident) -> dict[str, str]:
    return {
        "incident_id": inc.incident_id,
        "title": inc.title,
        "dataset_id": inc.dataset_id,
        "check_name": inc.check_name,
        "severity": inc.severity,
        "status": inc.status,
        "lead_email": inc.lead_email,
    }


class SnapshotCollector(Collector):
    """Yields incident metric families from whatever snapshots ``source`` returns at collect time.

    The exporter renders with ``render_snapshots`` instead; this stays as the reference rendering
    (prometheus_client's own) that the tests and the per-scrape benchmark compare it with.
    """

    def __init__(self, source: Callable[[], Sequence[LabelledSnapshot]]) -> None:
        self._source = source

    def collect(self) -> Iterator[Metric]:
        """Build every incident family from the current snapshots."""
        items = list(self._source())
        if not items:
            return
        const = [name for name, _ in items[0].labels]
        open_f = _gauge(OPEN, [*const, "dataset_id", "severity", "status"])
        resolved_f = _gauge(RESOLVED, [*const, "dataset_id", "severity"])
        age_f = _histogram(AGE, [*const, "severity"])
        duration_f = _histogram(DURATION, [*const, "severity"])
        info_f = _info(INFO_F, const)
        created_f = _gauge(CREATED, [*const, "incident_id"])
        truncated_f = _gauge(TRUNCATED, const)
        report_f = _gauge(REPORT, const)
        etl_f = _gauge(ETL, const)
        dataset_f = _info(DATASET, const)
        for item in items:
            c = [value for _, value in item.labels]
            for ds in item.datasets:
                dataset_f.add_metric(c, _dataset_labels(ds))
            snap = item.snapshot
            for (dataset, severity, status), count in sorted(snap.open_counts.items()):
                open_f.add_metric([*c, dataset, severity, status], count)
            for (dataset, severity), count in sorted(snap.resolved_counts.items()):
                resolved_f.add_metric([*c, dataset, severity], count)
            for severity, hist in sorted(snap.open_age.items()):
                age_f.add_metric([*c, severity], _buckets(hist), hist.sum)
            for severity, hist in sorted(snap.resolution_duration.items()):
                duration_f.add_metric([*c, severity], _buckets(hist), hist.sum)
            for inc in snap.incidents:
                info_f.add_metric(c, _incident_labels(inc))
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


class Exposition:
    """Pre-rendered bytes of the snapshot families, in both formats, gzipped and (on demand) plain.

    Only the gzipped bodies are kept from the start: Prometheus asks for gzip, and at 2,000 datasets
    the two plain bodies are ~6 MB, held twice while a cycle replaces them. A plain body is inflated
    the first time a scrape asks for it and kept from then on. The OpenMetrics bytes end with
    ``# EOF``, so live metrics are placed before them.
    """

    __slots__ = ("_plain", "openmetrics_gzip", "text_gzip")

    def __init__(
        self, text_gzip: bytes, openmetrics_gzip: bytes, *, plain: tuple[bytes, bytes] | None = None
    ):
        self.text_gzip = text_gzip
        self.openmetrics_gzip = openmetrics_gzip
        self._plain: dict[str, bytes] = {} if plain is None else {"text": plain[0], "openmetrics": plain[1]}

    def _inflated(self, name: str, compressed: bytes) -> bytes:
        body = self._plain.get(name)
        if body is None:  # two scrapes may both inflate it; either result is the same bytes
            body = self._plain[name] = gzip.decompress(compressed)
        return body

    @property
    def text(self) -> bytes:
        """The Prometheus text format body."""
        return self._inflated("text", self.text_gzip)

    @property
    def openmetrics(self) -> bytes:
        """The OpenMetrics body, ``# EOF`` last."""
        return self._inflated("openmetrics", self.openmetrics_gzip)


# At 2,000 datasets (~3 MB per format) level 6 took 26 ms per format and level 3 8 ms, for 14 % more bytes.
GZIP_LEVEL = 3
EMPTY_EXPOSITION = Exposition(
    gzip.compress(b"", compresslevel=GZIP_LEVEL),
    gzip.compress(OM_EOF, compresslevel=GZIP_LEVEL),
    plain=(b"", OM_EOF),
)


def render_snapshots(items: Sequence[LabelledSnapshot]) -> Exposition:
    """Render the snapshot families once, in both formats, as SnapshotCollector's families would be."""
    families = Families()
    if items:
        _add_families(families, items)
    # Compressed as they are produced: no plain body (~3 MB at 2,000 datasets) is ever held whole.
    return Exposition(families.text_gzip(GZIP_LEVEL), families.openmetrics_gzip(GZIP_LEVEL))


def _add_families(families: Families, items: Sequence[LabelledSnapshot]) -> None:
    """The families of SnapshotCollector.collect, in its order, with the same samples in the same order."""
    const = [name for name, _ in items[0].labels]
    new = families.new
    open_f = new(OPEN[0], GAUGE, f"{OPEN[1]} {CACHED}", [*const, "dataset_id", "severity", "status"])
    resolved_f = new(RESOLVED[0], GAUGE, f"{RESOLVED[1]} {CACHED}", [*const, "dataset_id", "severity"])
    age_f = new(AGE[0], GAUGE_HISTOGRAM, f"{AGE[1]} {CACHED}", [*const, "severity"])
    duration_f = new(DURATION[0], GAUGE_HISTOGRAM, f"{DURATION[1]} {CACHED}", [*const, "severity"])
    info_f = new(INFO_F[0], INFO, f"{INFO_F[1]} {CACHED}", const)
    created_f = new(CREATED[0], GAUGE, f"{CREATED[1]} {CACHED}", [*const, "incident_id"])
    truncated_f = new(TRUNCATED[0], GAUGE, f"{TRUNCATED[1]} {CACHED}", const)
    report_f = new(REPORT[0], GAUGE, f"{REPORT[1]} {CACHED}", const)
    etl_f = new(ETL[0], GAUGE, f"{ETL[1]} {CACHED}", const)
    dataset_f = new(DATASET[0], INFO, f"{DATASET[1]} {CACHED}", const)
    for item in items:
        c = [value for _, value in item.labels]
        for ds in item.datasets:
            dataset_f.add_info(c, _dataset_labels(ds))
        snap = item.snapshot
        add_open, add_resolved = open_f.add, resolved_f.add
        for (dataset, severity, status), count in sorted(snap.open_counts.items()):
            add_open([*c, dataset, severity, status], count)
        for (dataset, severity), count in sorted(snap.resolved_counts.items()):
            add_resolved([*c, dataset, severity], count)
        for severity, hist in sorted(snap.open_age.items()):
            age_f.add_histogram([*c, severity], _buckets(hist), hist.sum)
        for severity, hist in sorted(snap.resolution_duration.items()):
            duration_f.add_histogram([*c, severity], _buckets(hist), hist.sum)
        for inc in snap.incidents:
            info_f.add_info(c, _incident_labels(inc))
            if inc.created_at is not None:
                created_f.add([*c, inc.incident_id], inc.created_at)
        truncated_f.add(c, snap.info_truncated)
        if snap.latest_report_date is not None:
            report_f.add(c, midnight_utc(snap.latest_report_date))
        if snap.last_etl_refresh is not None:
            etl_f.add(c, snap.last_etl_refresh.timestamp())
    for family in (open_f, age_f, resolved_f, duration_f, info_f, created_f, truncated_f, report_f, etl_f):
        families.emit(family)
    if any(item.datasets for item in items):
        families.emit(dataset_f)

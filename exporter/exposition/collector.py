"""The incident families of published snapshots: a custom Collector, and their once-per-cycle rendering.

Both take every family's name, type, HELP and labels from the catalogue, so they cannot drift apart.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from prometheus_client.core import GaugeHistogramMetricFamily, GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from exporter.exposition import catalogue
from exporter.exposition.catalogue import MetricSpec
from exporter.exposition.writer import Families, Family
from exporter.incidents.fold import DatasetInfo
from exporter.incidents.snapshot import BucketCounts, OpenIncident, Snapshot, midnight_utc

OM_EOF = b"# EOF\n"


@dataclass(frozen=True)
class LabelledSnapshot:
    """A snapshot and the constant labels (e.g. organization) its series carry."""

    labels: tuple[tuple[str, str], ...]
    snapshot: Snapshot
    datasets: tuple[DatasetInfo, ...] = ()


def _family_labels(spec: MetricSpec, const: Sequence[str]) -> list[str]:
    # An info family's own labels are the keys of each sample's dict, so only the constant ones go here.
    return list(const) if spec.type == "info" else spec.label_names(const)


def _gauge(spec: MetricSpec, const: Sequence[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(spec.name, spec.served_help, labels=_family_labels(spec, const))


def _gauge_histogram(spec: MetricSpec, const: Sequence[str]) -> GaugeHistogramMetricFamily:
    return GaugeHistogramMetricFamily(spec.name, spec.served_help, labels=_family_labels(spec, const))


def _info(spec: MetricSpec, const: Sequence[str]) -> InfoMetricFamily:
    return InfoMetricFamily(spec.base, spec.served_help, labels=_family_labels(spec, const))


def _buckets(hist: BucketCounts) -> list[tuple[str, float]]:
    return [(floatToGoString(bound), float(count)) for bound, count in hist.buckets]


def _dataset_labels(ds: DatasetInfo) -> dict[str, str]:
    values = (ds.dataset_id, ds.dataset_name, ds.dataset_label, ds.datasource_name, ds.owner_email, ds.team)
    return dict(zip(catalogue.DATASET_INFO.labels, values, strict=True))


def _incident_labels(inc: OpenIncident) -> dict[str, str]:
    values = (
        inc.incident_id,
        inc.title,
        inc.dataset_id,
        inc.check_name,
        inc.severity,
        inc.status,
        inc.lead_email,
    )
    return dict(zip(catalogue.INCIDENT_INFO.labels, values, strict=True))


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
        open_f = _gauge(catalogue.OPEN, const)
        resolved_f = _gauge(catalogue.RESOLVED, const)
        age_f = _gauge_histogram(catalogue.OPEN_AGE, const)
        duration_f = _gauge_histogram(catalogue.RESOLUTION_DURATION, const)
        info_f = _info(catalogue.INCIDENT_INFO, const)
        created_f = _gauge(catalogue.INCIDENT_CREATED, const)
        truncated_f = _gauge(catalogue.INFO_TRUNCATED, const)
        report_f = _gauge(catalogue.REPORT_DATE, const)
        etl_f = _gauge(catalogue.LAST_ETL_REFRESH, const)
        dataset_f = _info(catalogue.DATASET_INFO, const)
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


def _new(families: Families, spec: MetricSpec, const: Sequence[str]) -> Family:
    return families.new(spec.base, spec.type, spec.served_help, _family_labels(spec, const))


def _with_constants(
    constants: Sequence[str], counts: Iterable[tuple[tuple[str, ...], int]]
) -> Iterable[tuple[Sequence[str], float]]:
    """(label values, count) per series: the organisation's constant labels first, when it has any."""
    if not constants:
        return counts
    return (((*constants, *key), count) for key, count in counts)


def _add_families(families: Families, items: Sequence[LabelledSnapshot]) -> None:
    """The families of SnapshotCollector.collect, in its order, with the same samples in the same order."""
    const = [name for name, _ in items[0].labels]
    open_f = _new(families, catalogue.OPEN, const)
    resolved_f = _new(families, catalogue.RESOLVED, const)
    age_f = _new(families, catalogue.OPEN_AGE, const)
    duration_f = _new(families, catalogue.RESOLUTION_DURATION, const)
    info_f = _new(families, catalogue.INCIDENT_INFO, const)
    created_f = _new(families, catalogue.INCIDENT_CREATED, const)
    truncated_f = _new(families, catalogue.INFO_TRUNCATED, const)
    report_f = _new(families, catalogue.REPORT_DATE, const)
    etl_f = _new(families, catalogue.LAST_ETL_REFRESH, const)
    dataset_f = _new(families, catalogue.DATASET_INFO, const)
    for item in items:
        c = [value for _, value in item.labels]
        for ds in item.datasets:
            dataset_f.add_info(c, _dataset_labels(ds))
        snap = item.snapshot
        open_f.add_all(_with_constants(c, sorted(snap.open_counts.items())))
        resolved_f.add_all(_with_constants(c, sorted(snap.resolved_counts.items())))
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

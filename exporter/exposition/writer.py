"""The snapshot families written straight to text, byte for byte as prometheus_client would write them.

prometheus_client builds a Sample (a named tuple holding a fresh label dict) per series, sorts each
dict's labels and formats every line twice, once per format: at 2,000 datasets, ~30k series, that was
~2 s per cycle. Here each family's label order is sorted once, repeated label values are escaped once,
and a sample line is formatted once and shared by both formats, which differ only in their headers,
the info type and where a gauge histogram's ``_gcount``/``_gsum`` lines go.
``tests/test_exposition.py`` holds the output to prometheus_client's own on varied snapshots.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from prometheus_client.utils import floatToGoString

GAUGE, INFO, GAUGE_HISTOGRAM = "gauge", "info", "gaugehistogram"
GCOUNT, GSUM = "_gcount", "_gsum"


class _Escaped(dict[str, str]):
    """Label values escaped as both formats escape them (backslash, newline, double quote), memoised."""

    def __missing__(self, value: str) -> str:
        escaped = value
        if "\\" in value or "\n" in value or '"' in value:
            escaped = value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
        self[value] = escaped
        return escaped


class _Fragments(dict[str, str]):
    """``name="escaped value"`` per label value of one label name, memoised."""

    def __init__(self, name: str, escaped: _Escaped) -> None:
        super().__init__()
        self._name = name
        self._escaped = escaped

    def __missing__(self, value: str) -> str:
        self[value] = fragment = f'{self._name}="{self._escaped[value]}"'
        return fragment


class _GoFloats(dict[float, str]):
    """floatToGoString memoised: counts and bucket values repeat a lot."""

    def __missing__(self, value: float) -> str:
        text: str = floatToGoString(value)
        self[value] = text
        return text


@dataclass
class Family:
    """One metric family: its samples' label names (in the caller's order) and formatted sample lines.

    ``lines`` holds the main samples; a gauge histogram also collects its ``_gcount`` and ``_gsum``
    lines in ``extra`` (the text format moves them into gauges of their own at the end of the family)
    and, in ``grouped``, every line in add order (the OpenMetrics order).
    """

    name: str
    kind: str
    documentation: str
    label_names: Sequence[str]
    escaped: _Escaped
    floats: _GoFloats
    lines: list[str] = field(default_factory=list)
    extra: dict[str, list[str]] = field(default_factory=dict)
    grouped: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._orders: dict[tuple[str, ...], tuple[list[int], list[_Fragments]]] = {}
        self._sample_name = self.name + "_info" if self.kind == INFO else self.name
        self._names = tuple(self.label_names)

    def _order(self, names: tuple[str, ...]) -> tuple[list[int], list[_Fragments]]:
        order = self._orders.get(names)
        if order is None:
            # Both encoders sort each sample's labels by name; the names are the same for every sample.
            indexes = sorted(range(len(names)), key=names.__getitem__)
            order = self._orders[names] = (indexes, [_Fragments(names[i], self.escaped) for i in indexes])
        return order

    def _labels(self, names: tuple[str, ...], values: Sequence[str]) -> str:
        indexes, fragments = self._order(names)
        if not names:
            return ""
        return "{" + ",".join([part[values[i]] for i, part in zip(indexes, fragments, strict=True)]) + "}"

    def add(self, values: Sequence[str], value: float) -> None:
        """A gauge sample with these label values (in ``label_names`` order)."""
        self.lines.append(
            f"{self._sample_name}{self._labels(self._names, values)} {self.floats[float(value)]}\n"
        )

    def add_all(self, samples: Iterable[tuple[Sequence[str], float]]) -> None:
        """Gauge samples, (label values, value) each, written as ``add`` writes them, in one loop.

        The zero-filled families hold ~25k series at 2,000 datasets: one call and one label lookup per
        series made up most of their rendering.
        """
        if not self._names:
            for values, value in samples:
                self.add(values, value)
            return
        indexes, fragments = self._order(self._names)
        parts = list(zip(indexes, fragments, strict=True))
        head, floats, append = self._sample_name + "{", self.floats, self.lines.append
        for values, value in samples:
            append(f"{head}{','.join([part[values[i]] for i, part in parts])}}} {floats[float(value)]}\n")

    def add_info(self, values: Sequence[str], info: dict[str, str]) -> None:
        """An info sample: constant label values plus the info labels."""
        names = (*self.label_names, *info)
        labels = self._labels(names, [*values, *info.values()])
        self.lines.append(f"{self._sample_name}{labels} 1.0\n")

    def add_histogram(
        self, values: Sequence[str], buckets: Iterable[tuple[str, float]], total: float
    ) -> None:
        """A gauge histogram's buckets (cumulative, +Inf last), its count and its sum."""
        floats, base = self.floats, tuple(self.label_names)
        names = (*base, "le")
        count = 0.0
        own: list[str] = []
        for bound, bucket_count in buckets:
            labels = self._labels(names, [*values, bound])
            own.append(f"{self.name}_bucket{labels} {floats[float(bucket_count)]}\n")
            count = bucket_count
        plain = self._labels(base, values)
        gcount = f"{self.name}{GCOUNT}{plain} {floats[float(count)]}\n"
        gsum = f"{self.name}{GSUM}{plain} {floats[float(total)]}\n"
        self.lines.extend(own)
        self.extra.setdefault(GCOUNT, []).append(gcount)
        self.extra.setdefault(GSUM, []).append(gsum)
        self.grouped.extend((*own, gcount, gsum))

    def text(self, out: list[str]) -> None:
        """Append the family in the Prometheus text format (0.0.4)."""
        help_text = self.documentation.replace("\\", r"\\").replace("\n", r"\n")
        kind = {INFO: "gauge", GAUGE_HISTOGRAM: "histogram"}.get(self.kind, self.kind)
        name = self._sample_name
        out.append(f"# HELP {name} {help_text}\n# TYPE {name} {kind}\n")
        out.extend(self.lines)
        for suffix, lines in sorted(self.extra.items()):
            out.append(f"# HELP {self.name}{suffix} {help_text}\n# TYPE {self.name}{suffix} gauge\n")
            out.extend(lines)

    def openmetrics(self, out: list[str]) -> None:
        """Append the family in the OpenMetrics text format (1.0)."""
        help_text = self.documentation.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
        out.append(f"# HELP {self.name} {help_text}\n# TYPE {self.name} {self.kind}\n")
        out.extend(self.grouped if self.kind == GAUGE_HISTOGRAM else self.lines)


class Families:
    """Families sharing one escape and one float cache, kept in the order they are added."""

    def __init__(self) -> None:
        self._escaped = _Escaped()
        self._floats = _GoFloats()
        self.families: list[Family] = []

    def new(self, name: str, kind: str, documentation: str, label_names: Sequence[str]) -> Family:
        """Create a family (not yet part of the output: ``emit`` decides)."""
        return Family(name, kind, documentation, list(label_names), self._escaped, self._floats)

    def emit(self, family: Family) -> None:
        """Add ``family`` to the output, after those emitted before it."""
        self.families.append(family)

    def text_gzip(self, level: int) -> bytes:
        """The text format, gzipped as it is produced (the whole body never exists uncompressed)."""
        return _gzip(self._chunks(Family.text), level)

    def openmetrics_gzip(self, level: int) -> bytes:
        """OpenMetrics, gzipped as it is produced."""
        return _gzip(self._chunks(Family.openmetrics, "# EOF\n"), level)

    def _chunks(self, write: Callable[[Family, list[str]], None], last: str = "") -> Iterator[bytes]:
        """The body, encoded a family at a time (the biggest families in slices of lines)."""
        for family in self.families:
            out: list[str] = []
            write(family, out)
            for start in range(0, len(out), _CHUNK_LINES):
                yield "".join(out[start : start + _CHUNK_LINES]).encode("utf-8")
        if last:
            yield last.encode("utf-8")


_CHUNK_LINES = 4096


def _gzip(chunks: Iterable[bytes], level: int) -> bytes:
    """gzip's format (what gzip.compress writes, mtime 0) over a stream of chunks."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    parts = [compressor.compress(chunk) for chunk in chunks]
    parts.append(compressor.flush())
    return b"".join(parts)

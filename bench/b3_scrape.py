"""B3: /metrics throughput and tail latency at ~20,000 series, against per-scrape rendering and a floor."""

from __future__ import annotations

import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.common import (
    Child,
    Figure,
    OrgSpec,
    ScenarioResult,
    exporter_process,
    json_line,
    median,
    ratio,
    simulator,
)
from bench.load import LoadResult, run_load

CONNECTIONS = 8


def fetch(url: str, *, gzip: bool) -> bytes:
    """One GET, body returned as sent (still compressed when gzip was asked for)."""
    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"} if gzip else {})
    with urllib.request.urlopen(request, timeout=60) as response:
        return bytes(response.read())


@contextmanager
def server(*argv: str) -> Iterator[str]:
    """Run ``bench.servers`` with ``argv`` and yield its /metrics URL."""
    child = Child([sys.executable, "-m", "bench.servers", *argv], "bench server")
    try:
        port = child.wait_line(lambda line: (json_line(line) or {}).get("port"), 300)
        yield f"http://127.0.0.1:{port}/metrics"
    finally:
        child.stop()


def count_series(text: bytes) -> int:
    """Sample lines of a text exposition."""
    return sum(1 for line in text.splitlines() if line and not line.startswith(b"#"))


def run(spec: OrgSpec, seconds: float, use_wrk: bool, repeats: int) -> ScenarioResult:
    """Load the exporter and the floor in alternation, then the per-scrape server; plain and gzipped."""
    result = ScenarioResult()
    runs: dict[str, list[LoadResult]] = {}

    def load(name: str, url: str, gzip: bool, duration: float) -> None:
        runs.setdefault(name, []).append(
            run_load(url, connections=CONNECTIONS, seconds=duration, gzip=gzip, use_wrk=use_wrk)
        )

    with (
        simulator(spec) as sim,
        exporter_process(sim.reporting_url, "--poll.interval=1h") as proc,
        tempfile.TemporaryDirectory() as tmp,
    ):
        proc.next_poll(300)
        url = f"http://127.0.0.1:{proc.port}/metrics"
        plain, gzipped = fetch(url, gzip=False), fetch(url, gzip=True)
        (Path(tmp) / "plain").write_bytes(plain)
        (Path(tmp) / "gzip").write_bytes(gzipped)
        with server("floor", str(Path(tmp) / "plain"), str(Path(tmp) / "gzip")) as floor_url:
            for gzip, suffix in ((False, ""), (True, "_gzip")):
                for target in (url, floor_url):  # warm-up, not recorded
                    run_load(target, connections=CONNECTIONS, seconds=0.5, gzip=gzip, use_wrk=use_wrk)
                for _ in range(repeats):  # alternated, so a noisy neighbour hits both alike
                    load(f"exporter{suffix}", url, gzip, seconds)
                    load(f"floor{suffix}", floor_url, gzip, seconds)
        with server("per-scrape", sim.reporting_url) as naive_url:
            naive_body = fetch(naive_url, gzip=False)
            # A few seconds at least: at a couple of requests per second, shorter runs count too few.
            naive_seconds = max(seconds, 4.0) if repeats > 1 else seconds
            for gzip, suffix in ((False, ""), (True, "_gzip")):
                load(f"per_scrape{suffix}", naive_url, gzip, naive_seconds)
    loads = {name: _median_load(values) for name, values in runs.items()}
    result.details = {
        "organisation": vars(spec),
        "series": count_series(plain),
        "per_scrape_series": count_series(naive_body),
        "body_bytes": {"plain": len(plain), "gzip": len(gzipped)},
        "connections": CONNECTIONS,
        "seconds_per_run": seconds,
        "median_of_runs": {name: value.as_dict() for name, value in loads.items()},
        "runs": {name: [value.as_dict() for value in values] for name, values in runs.items()},
    }
    result.add(Figure("B3.series", "series served by /metrics", count_series(plain), "series"))
    for suffix, label in (("", ""), ("_gzip", "gzip ")):
        ours, floor, naive = loads[f"exporter{suffix}"], loads[f"floor{suffix}"], loads[f"per_scrape{suffix}"]
        prefix = f"B3{'.gzip' if suffix else ''}"
        rps = ours.requests_per_second
        result.add(Figure(f"{prefix}.rps", f"{label}/metrics requests per second", round(rps, 1), "req/s"))
        result.add(
            Figure(
                f"{prefix}.per_scrape",
                f"{label}req/s ÷ per-scrape rendering (prometheus_client)",
                ratio(rps, naive.requests_per_second),
                "x",
                ">=",
                100.0,
            )
        )
        result.add(
            Figure(
                f"{prefix}.floor",
                f"{label}req/s ÷ floor (fixed bytes)",
                ratio(rps, floor.requests_per_second),
                "x",
                ">=",
                0.9,
            )
        )
        result.add(Figure(f"{prefix}.p99_ms", f"{label}p99 latency", round(ours.p99_seconds * 1000, 2), "ms"))
        result.add(
            Figure(
                f"{prefix}.p99",
                f"{label}p99 ÷ floor's p99",
                ratio(ours.p99_seconds, floor.p99_seconds),
                "x",
                "<=",
                2.0,
            )
        )
    return result


def _median_load(values: list[LoadResult]) -> LoadResult:
    """Median throughput and median p99 of repeated runs (request and error counts summed)."""
    return LoadResult(
        median([v.requests_per_second for v in values]),
        median([v.p99_seconds for v in values]),
        sum(v.requests for v in values),
        sum(v.errors for v in values),
        values[0].tool,
    )

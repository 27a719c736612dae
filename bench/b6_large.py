"""B6: a large organisation (2,000 datasets, ~30k open incidents, a resolved-heavy history) at 3 sizes.

At each size: the first full cycle (first request to published bytes) against the floor of the same
requests made sequentially and decoded with ``json``, alternated in one run; where the cycle's time
goes; the exporter CLI's peak RSS and its growth over many cycles; and the floor's own peak RSS.
The simulator serves pre-encoded replies, so that neither side waits on it for more than a socket write.
"""

from __future__ import annotations

import json
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from bench.b4_memory import STEADY_CYCLE, cycle_memory
from bench.common import Child, Figure, OrgSpec, ScenarioResult, json_line, median, ratio, simulator
from bench.inproc import cycle_variants
from bench.stages import breakdown, share_line

MB = 1e6 / 2**20  # MiB per MB


@dataclass(frozen=True)
class Point:
    """One size of the large organisation: its figure id, organisation and RSS budget (MB)."""

    label: str
    spec: OrgSpec
    rss_budget_mb: float | None


def points(scale: float = 1.0) -> tuple[Point, ...]:
    """100k, 300k and 1M rows over 2,000 datasets (``scale`` shrinks incidents and datasets)."""

    def spec(incidents: int, resolved_fraction: float) -> OrgSpec:
        return OrgSpec(
            incidents=max(20, round(incidents * scale)),
            datasets=max(10, round(2000 * scale)),
            resolved_fraction=resolved_fraction,
        )

    return (
        Point("100k", spec(23000, 0.03), 80.0),  # ~86k unresolved + ~14k resolved rows, ~22k open
        Point("300k", spec(40000, 0.25), None),  # ~117k + ~205k, ~30k open
        Point("1m", spec(72000, 0.58), 150.0),  # ~126k + ~863k, ~33k open
    )


def floor_memory(reporting_url: str) -> dict[str, Any]:
    """The floor run once in a fresh process of its own: its wall time and peak RSS."""
    child = Child([sys.executable, "-m", "bench.floor", reporting_url], "floor")
    try:
        line = child.wait_line(lambda text: (json_line(text) or {}).get("mode") and text, 600)
        return dict(json.loads(line))
    finally:
        child.stop()


def measure(point: Point, repeats: int, cycles: int) -> dict[str, Any]:
    """Everything B6 reports about one size."""
    with simulator(point.spec, encoded=True) as sim:
        with cycle_variants(sim.reporting_url) as chosen:
            floor, default, sequential, variants = (
                chosen.floor,
                chosen.default,
                chosen.sequential,
                chosen.runs,
            )
            for run_variant in variants.values():  # warm-up: connections, first imports
                run_variant()
            walls: dict[str, list[float]] = {name: [] for name in variants}
            for _ in range(repeats):  # alternated, so a noisy neighbour hits every variant alike
                for name, run_variant in variants.items():
                    walls[name].append(run_variant())
            stages = {"default": breakdown(default), "concurrency_1": breakdown(sequential)}
            floor_rows, floor_requests = floor.rows, floor.requests
        memory = cycle_memory(sim.reporting_url, cycles)
        floor_rss = floor_memory(sim.reporting_url)
    medians = {name: median(values) for name, values in walls.items()}
    print(
        f"B6 {point.label}: {floor_rows} rows; where the time goes (concurrency 1): "
        f"{share_line(stages['concurrency_1'])}",
        file=sys.stderr,
        flush=True,
    )
    return {
        "label": point.label,
        "rss_budget_mb": point.rss_budget_mb,
        "organisation": vars(point.spec),
        "rows": {**sim.totals, "total": floor_rows},
        "requests": floor_requests,
        "median_wall_seconds": medians,
        "wall_seconds": walls,
        "stages": stages,
        "exporter_memory": memory,
        "floor_memory": {"peak_mib": floor_rss["hwm_after_kib"] / 1024, "seconds": floor_rss["cycle"]},
    }


def run(scale: float, repeats: int, cycles: int, *, parallel: bool = False) -> ScenarioResult:
    """Measure every size; the figures are named after the nominal size.

    ``parallel`` measures the sizes at the same time, which only a quick check of the harness wants.
    """
    result = ScenarioResult()
    chosen = points(scale)
    with ThreadPoolExecutor(max_workers=len(chosen) if parallel else 1) as pool:
        futures = [pool.submit(measure, point, repeats, cycles) for point in chosen]
        measured = {point.label: future.result() for point, future in zip(chosen, futures, strict=True)}
    for point in chosen:
        data = measured[point.label]
        walls, memory = data["median_wall_seconds"], data["exporter_memory"]
        prefix = f"B6.{point.label}"
        rows = data["rows"]["total"]
        peak_mb = round(memory["peak_mib"] / MB, 1)
        shares = data["stages"]["concurrency_1"]["share_percent"]
        for figure in (
            Figure(prefix, f"{rows} rows: first full cycle ÷ sequential json floor", ratio(walls["cycle"], walls["floor"]), "x", "<=", 1.3),  # noqa: E501
            Figure(f"{prefix}.cycle_seconds", "cycle wall time", round(walls["cycle"], 3), "s"),
            Figure(f"{prefix}.floor_seconds", "floor wall time", round(walls["floor"], 3), "s"),
            # No target: this simulator answers from memory at once, so page threads have no wait to
            # overlap and the figure shows only their contention; B2 holds the lever to a target.
            Figure(f"{prefix}.concurrency", "cycle at --poll.concurrency 1 ÷ default (4), no latency", ratio(walls["cycle_concurrency_1"], walls["cycle"]), "x"),  # noqa: E501
            Figure(f"{prefix}.peak_mb", f"exporter peak RSS over {memory['cycles']} cycles (VmHWM)", peak_mb, "MB", *(("<=", point.rss_budget_mb) if point.rss_budget_mb else ())),  # noqa: E501
            Figure(f"{prefix}.floor_peak_mb", "floor's peak RSS (one run, own process)", round(data["floor_memory"]["peak_mib"] / MB, 1), "MB"),  # noqa: E501
            Figure(f"{prefix}.growth", f"memory growth, cycle {min(STEADY_CYCLE, memory['cycles'])} to {memory['cycles']}", memory["growth_percent"], "%", "<=", 5.0),  # noqa: E501
            Figure(f"{prefix}.fold_share", "share of the cycle folding rows (concurrency 1)", shares["fold"], "%"),  # noqa: E501
        ):  # fmt: skip
            result.add(figure)
    result.details = {"points": measured}
    return result

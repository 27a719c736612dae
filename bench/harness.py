"""Run the scenarios, print one table of figures and write them, with the machine, to a JSON file."""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import b1_throughput, b2_latency, b3_scrape, b4_memory, b5_idle, b6_large, plot
from bench.common import REPO_ROOT, Figure, OrgSpec, ScenarioResult
from bench.load import wrk_path

DEFAULT_OUTPUT = REPO_ROOT / "bench" / "results.json"
DEFAULT_PLOT = REPO_ROOT / "docs" / "bench-large-organisation.png"
SCENARIOS = ("B1", "B2", "B3", "B4", "B5", "B6")
# Every figure a run reports, whatever its size: the smoke test holds the harness to this list.
FIGURE_IDS = (
    "B1", "B1.cycle_seconds", "B1.floor_seconds", "B1.concurrency", "B1.msgspec", "B1.msgspec_cpu",
    "B1.msgspec_decode", "B2", "B2.cycle_seconds", "B2.requests_per_page", "B3.series", "B3.rps",
    "B3.per_scrape", "B3.floor", "B3.p99_ms", "B3.p99", "B3.gzip.rps", "B3.gzip.per_scrape",
    "B3.gzip.floor", "B3.gzip.p99_ms", "B3.gzip.p99", "B3.tls.rps", "B3.tls.floor", "B3.tls.p99_ms",
    "B4.peak_mib", "B4.peak", "B4.growth", "B4.aggregation", "B5", "B5.connections",
    *(f"B6.{size}{suffix}" for size in ("100k", "300k", "1m") for suffix in (
        "", ".cycle_seconds", ".floor_seconds", ".concurrency", ".peak_mb", ".floor_peak_mb", ".growth",
        ".fold_share",
    )),
)  # fmt: skip


@dataclass(frozen=True)
class Size:
    """How big each scenario runs."""

    b1: OrgSpec
    b1_repeats: int
    b2: OrgSpec
    b2_delay: float
    b2_repeats: int
    b3: OrgSpec
    b3_seconds: float
    b3_repeats: int
    b4_cycles: int
    b5: OrgSpec
    idle_seconds: float
    b6_scale: float = 1.0
    b6_repeats: int = 3
    b6_cycles: int = 20


SIZES = {
    # ~100k unresolved rows over 4 report dates (25.8k open incidents) plus ~16k resolved rows.
    "full": Size(
        b1=OrgSpec(incidents=27000, datasets=400),
        b1_repeats=4,
        b2=OrgSpec(incidents=12000, datasets=200, resolved_fraction=0.02),  # 45 + 5 pages
        b2_delay=0.1,
        b2_repeats=5,
        # B6's 100k-row organisation (2,000 datasets, ~22k open incidents): its ~26k series, ~3 MB.
        b3=OrgSpec(incidents=23000, datasets=2000, resolved_fraction=0.03),
        b3_seconds=3.0,
        b3_repeats=3,
        b4_cycles=50,
        b5=OrgSpec(incidents=3000, datasets=100),
        idle_seconds=60.0,
    ),
    "small": Size(
        b1=OrgSpec(incidents=600, datasets=20),
        b1_repeats=1,
        b2=OrgSpec(incidents=600, datasets=20),
        b2_delay=0.01,
        b2_repeats=1,
        b3=OrgSpec(incidents=300, datasets=60, resolved_fraction=0.5),
        b3_seconds=0.3,
        b3_repeats=1,
        b4_cycles=2,
        b5=OrgSpec(incidents=200, datasets=10),
        idle_seconds=0.5,
        b6_scale=0.01,
        b6_repeats=1,
        b6_cycles=2,
    ),
}


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--size", choices=sorted(SIZES), default="full")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="JSON file to write")
    parser.add_argument("--only", default=",".join(SCENARIOS), help="comma-separated scenarios to run")
    parser.add_argument("--idle-seconds", type=float, default=None, help="B5 idle window")
    parser.add_argument("--cycles", type=int, default=None, help="B4 cycle count")
    parser.add_argument("--b6-cycles", type=int, default=None, help="B6 cycle count of the memory run")
    parser.add_argument(
        "--plot",
        type=Path,
        default=None,
        help=f"PNG of B6 to write (default: {DEFAULT_PLOT.relative_to(REPO_ROOT)} at full size, "
        "else next to --output)",
    )
    parser.add_argument("--no-wrk", action="store_true", help="load /metrics from Python even if wrk exists")
    return parser.parse_args(argv)


def machine() -> dict[str, Any]:
    """Where the run happened."""
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        model = next((line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                      if line.startswith("model name")), "")  # fmt: skip
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "cores": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "wrk": bool(wrk_path()),
        "commit": commit,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def scenarios(size: Size, args: argparse.Namespace) -> dict[str, Callable[[], ScenarioResult]]:
    """The runnable scenarios at ``size``."""
    use_wrk = not args.no_wrk and args.size == "full"
    return {
        "B1": lambda: b1_throughput.run(size.b1, size.b1_repeats),
        "B2": lambda: b2_latency.run(size.b2, size.b2_delay, size.b2_repeats),
        "B3": lambda: b3_scrape.run(size.b3, size.b3_seconds, use_wrk, size.b3_repeats),
        "B4": lambda: b4_memory.run(size.b1, args.cycles or size.b4_cycles),
        "B5": lambda: b5_idle.run(size.b5, args.idle_seconds or size.idle_seconds),
        "B6": lambda: b6_large.run(
            size.b6_scale, size.b6_repeats, args.b6_cycles or size.b6_cycles, parallel=args.size == "small"
        ),
    }


def table(figures: Sequence[Figure]) -> str:
    """The figures as an aligned text table."""
    rows = [("id", "figure", "value", "target", "met")]
    for f in figures:
        verdict = "" if f.met is None else ("yes" if f.met else "NO")
        rows.append((f.id, f.name, f"{f.value:g} {f.unit}", f.target, verdict))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(line.rstrip() for line in lines)


def _timed(run: Callable[[], ScenarioResult]) -> tuple[ScenarioResult, float]:
    began = time.monotonic()
    return run(), time.monotonic() - began


def _plot(report: dict[str, Any], args: argparse.Namespace) -> None:
    """Write B6's plot, or say why not."""
    path = args.plot or (DEFAULT_PLOT if args.size == "full" else args.output.with_suffix(".png"))
    if not plot.available():
        print("B6 plot skipped: matplotlib is not installed (pip install -e '.[bench]')", file=sys.stderr)
        return
    info = report["machine"]
    title = (
        f"B6, large organisation (2,000 datasets): {info['cores']} shared cores, Python {info['python']}, "
        f"commit {info['commit']}"
    )
    plot.write(report["scenarios"]["B6"], path, title=title)
    print(f"B6 plot written to {path}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run, print, write; exit 0 even when a target is missed (the table says so)."""
    args = parse(argv)
    size = SIZES[args.size]
    wanted = [name.strip().upper() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(wanted) - set(SCENARIOS))
    if unknown:
        print(f"unknown scenario(s): {', '.join(unknown)}", file=sys.stderr)
        return 2
    started = time.monotonic()
    report: dict[str, Any] = {"size": args.size, "machine": machine(), "scenarios": {}}
    figures: list[Figure] = []
    runnable = scenarios(size, args)
    results: dict[str, Future[tuple[ScenarioResult, float]]] = {}
    with ThreadPoolExecutor(max_workers=1) as background:
        for name in wanted:
            if name == "B5" and "B4" in wanted:
                continue  # started alongside B4 below
            if name == "B4" and "B5" in wanted:
                # B5's exporter sleeps between polls and only its own CPU time is counted, so it can
                # idle while B4 runs: the whole run is a minute shorter.
                print("running B5 (in the background) ...", file=sys.stderr, flush=True)
                results["B5"] = background.submit(_timed, runnable["B5"])
            print(f"running {name} ...", file=sys.stderr, flush=True)
            results[name] = Future()
            results[name].set_result(_timed(runnable[name]))
        for name in wanted:
            result, seconds = results[name].result()
            figures.extend(result.figures)
            report["scenarios"][name] = {"seconds": round(seconds, 1), **result.details}
    report["seconds"] = round(time.monotonic() - started, 1)
    report["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    report["figures"] = [figure.as_dict() for figure in figures]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    if "B6" in report["scenarios"]:
        _plot(report, args)
    info = report["machine"]
    print(f"{info['cores']} cores, {info['cpu_model']}, Python {info['python']}; {report['seconds']} s")
    print(table(figures))
    return 0

"""B4: the exporter's peak RSS over B1-sized cycles, and its growth across many cycles."""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any

from bench.common import (
    Child,
    Figure,
    OrgSpec,
    ScenarioResult,
    exporter_process,
    json_line,
    memory_kib,
    ratio,
    simulator,
)
from bench.inproc import PULL_EVERY_CYCLE

STEADY_CYCLE = 5  # growth is measured from here: by then the previous cycle's data is held as well


class Sampler:
    """Samples VmRSS of a process every few milliseconds in a thread and keeps the maximum."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        self.pid = pid
        self.interval = interval
        self.max_rss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.max_rss = max(self.max_rss, memory_kib(self.pid)["VmRSS"])
            except (OSError, KeyError):
                return

    def stop(self) -> None:
        """Stop sampling."""
        self._stop.set()
        self._thread.join()


def probe(url: str, mode: str) -> dict[str, Any]:
    """Run ``bench.memprobe`` once and return its report."""
    child = Child([sys.executable, "-m", "bench.memprobe", url, mode], "memprobe")
    try:
        line = child.wait_line(lambda text: (json_line(text) or {}).get("mode") and text, 300)
        return dict(json.loads(line))
    finally:
        child.stop()


def cycle_memory(reporting_url: str, cycles: int) -> dict[str, Any]:
    """Run the exporter CLI for ``cycles`` back-to-back pulls, reading its memory after each."""
    per_cycle: list[dict[str, float]] = []
    flags = ("--poll.interval=10ms", *PULL_EVERY_CYCLE)
    with exporter_process(reporting_url, *flags) as proc:
        baseline = memory_kib(proc.child.pid)
        sampler = Sampler(proc.child.pid)
        started = time.monotonic()
        for number in range(1, cycles + 1):
            event = proc.next_poll(600)
            memory = memory_kib(proc.child.pid)
            per_cycle.append(
                {
                    "cycle": number,
                    "duration_seconds": float(event.get("duration_seconds", 0.0)),
                    "rows": float(event.get("rows", 0)),
                    "rss_mib": memory["VmRSS"] / 1024,
                    "hwm_mib": memory["VmHWM"] / 1024,
                }
            )
        sampler.stop()
        elapsed = time.monotonic() - started
    steady = per_cycle[min(STEADY_CYCLE, cycles) - 1]
    last = per_cycle[-1]
    hwm_growth = (last["hwm_mib"] - steady["hwm_mib"]) / steady["hwm_mib"]
    rss_growth = (last["rss_mib"] - steady["rss_mib"]) / steady["rss_mib"]
    return {
        "cycles": cycles,
        "seconds": round(elapsed, 1),
        "rss_at_start_mib": baseline["VmRSS"] / 1024,
        "max_sampled_rss_mib": sampler.max_rss / 1024,
        "peak_mib": last["hwm_mib"],
        "growth_percent": round(100 * max(hwm_growth, rss_growth), 2),
        "growth_from_cycle_1_percent": round(100 * (last["hwm_mib"] / per_cycle[0]["hwm_mib"] - 1), 2),
        "per_cycle": per_cycle,
    }


def run(spec: OrgSpec, cycles: int) -> ScenarioResult:
    """Run the exporter CLI for ``cycles`` back-to-back cycles, sampling its memory."""
    result = ScenarioResult()
    with simulator(spec) as sim:
        memory = cycle_memory(sim.reporting_url, cycles)
        lever = {mode: probe(sim.reporting_url, mode) for mode in ("streaming", "keep-all")}
    growth = memory["growth_percent"]
    result.details = {"organisation": vars(spec), "rows": sim.totals, **memory, "aggregation_lever": lever}
    peak = memory["peak_mib"]
    result.add(
        Figure("B4.peak_mib", f"peak RSS over {cycles} B1-sized cycles (VmHWM)", round(peak, 1), "MiB")
    )
    result.add(Figure("B4.peak", "peak RSS ÷ 100 MB budget", ratio(peak * 1.048576, 100.0), "x", "<=", 1.0))
    result.add(
        Figure(
            "B4.growth",
            f"memory growth, cycle {min(STEADY_CYCLE, cycles)} to {cycles} (max of VmHWM, VmRSS)",
            growth,
            "%",
            "<=",
            5.0,
        )
    )
    streaming, keep_all = lever["streaming"], lever["keep-all"]
    result.add(
        Figure(
            "B4.aggregation",
            "lever: cycle's RSS rise keeping raw rows ÷ folding per page",
            ratio(
                keep_all["hwm_after_kib"] - keep_all["rss_before_kib"],
                streaming["hwm_after_kib"] - streaming["rss_before_kib"],
            ),
            "x",
            ">",
            1.0,
        )
    )
    return result

"""B5: the CPU an exporter burns between polls, read from /proc of an exporter subprocess."""

from __future__ import annotations

import time

from bench.common import (
    CLOCK_TICKS,
    Figure,
    OrgSpec,
    ScenarioResult,
    cpu_seconds,
    exporter_process,
    simulator,
)

SETTLE_SECONDS = 1.0


def run(spec: OrgSpec, idle_seconds: float) -> ScenarioResult:
    """Let the exporter finish its first poll, then count its CPU time over ``idle_seconds``."""
    result = ScenarioResult()
    with simulator(spec) as sim, exporter_process(sim.reporting_url, "--poll.interval=1h") as proc:
        first = proc.next_poll(300)
        time.sleep(SETTLE_SECONDS)
        before, started = cpu_seconds(proc.child.pid), time.monotonic()
        time.sleep(idle_seconds)
        used, elapsed = cpu_seconds(proc.child.pid) - before, time.monotonic() - started
    percent = 100.0 * used / elapsed
    result.details = {
        "organisation": vars(spec),
        "first_poll_rows": first.get("rows"),
        "idle_seconds": round(elapsed, 2),
        "cpu_seconds": round(used, 3),
        "clock_tick_seconds": 1 / CLOCK_TICKS,
    }
    result.add(Figure("B5", "CPU between polls, % of one core", round(percent, 3), "%", "<", 1.0))
    return result

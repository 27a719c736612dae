"""Soak: many short cycles under random faults; what is served is always whole, and memory stays flat."""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from exporter.app import Exporter
from exporter.simulator import SimulatorServer, generate_organization
from exporter.simulator.faults import FaultPlan

pytestmark = pytest.mark.slow  # more than a few seconds each (real binaries, builds or many cycles)

SOAK_SECONDS = float(os.environ.get("SODA_EXPORTER_SOAK_SECONDS", "20"))
INCIDENTS = "/v1/impact/incidents"
# Faults that break a request or a read, never the data itself: a cycle either gets the truth or fails.
TRANSPORT_FAULTS: list[dict[str, Any]] = [
    {"kind": "http_status", "code": 500},
    {"kind": "http_status", "code": 503, "retry_after": 0},
    {"kind": "rate_limited", "retry_after": 0},
    {"kind": "reset_mid_body"},
    {"kind": "truncated_json"},
    {"kind": "malformed_json"},
    {"kind": "wrong_content_type", "content_type": "text/html"},
    {"kind": "total_drift", "delta": 3},
    {"kind": "duplicate_rows"},
    {"kind": "empty_page"},
    {"kind": "delay", "seconds": 0.6},
]


def rss_bytes() -> int:
    """Resident set size of this process."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def served(exporter: Exporter) -> dict[tuple[str, str, str], int]:
    """The non-zero open counts currently published."""
    snap = exporter.state.snapshot("default")
    return {k: v for k, v in snap.open_counts.items() if v} if snap else {}


def truth(sim: SimulatorServer) -> dict[tuple[str, str, str], int]:
    """Open counts the simulator's organisation holds right now."""
    return dict(Counter((s.dataset_id, s.severity, s.status) for s in sim.organization.open_incidents()))


def test_soak_under_random_faults(
    start_simulator: Callable[..., SimulatorServer], start_exporter: Callable[..., Exporter]
) -> None:
    rng = random.Random(20261123)
    sim = start_simulator(generate_organization(seed=3, incidents=120, datasets=6, days=40))
    exporter = start_exporter(
        sim,
        "--poll.page-size",
        "40",
        "--soda.retries",
        "1",
        "--soda.request-timeout",
        "0.5s",
        "--poll.timeout",
        "5s",
        "--poll.max-age",
        "0",
        "--datasets.interval",
        "0",
        run=False,
    )
    incident_ids = [inc.incident_id for inc in sim.organization.incidents]
    outcomes: Counter[bool] = Counter()
    previous: dict[tuple[str, str, str], int] = {}
    baseline_rss = 0
    started = time.monotonic()
    cycles = 0
    while time.monotonic() - started < SOAK_SECONDS or not (outcomes[True] and outcomes[False]):
        assert time.monotonic() - started < SOAK_SECONDS + 60, "soak never saw both outcomes"
        # The organisation changes between cycles, so the truth keeps moving away from what is served.
        sim.organization.apply_update(
            rng.choice(incident_ids),
            status=rng.choice(("reported", "investigating", "fixing", "resolved")),
            severity=rng.choice(("minor", "major", "critical")),
        )
        expected = truth(sim)
        # Half the cycles run clean; the others meet one fault kind on some of their requests.
        if rng.random() < 0.5:
            sim.set_faults(None)
        else:
            rule = dict(rng.choice(TRANSPORT_FAULTS), path=rng.choice((INCIDENTS, "/v1/last_etl_refresh")))
            sim.set_faults(FaultPlan.from_dict({"seed": cycles, "rules": [dict(rule, probability=0.3)]}))
        ok = exporter.pollers[0].run_cycle()
        outcomes[ok] += 1
        now_served = served(exporter)
        if ok:
            assert now_served == expected, f"cycle {cycles}: success but not the truth"
        else:
            assert now_served == previous, f"cycle {cycles}: failure changed what is served"
        previous = now_served
        sim.clear_records()
        cycles += 1
        if cycles == 20:
            baseline_rss = rss_bytes()
    assert cycles >= 40
    assert outcomes[True] and outcomes[False]
    growth = rss_bytes() - baseline_rss
    assert growth < 8 * 1024 * 1024, (
        f"resident memory grew by {growth / 1e6:.1f} MB over {cycles - 20} cycles"
    )

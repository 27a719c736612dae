"""Faults injected into the simulator, and what a cleanly failed cycle looks like from the exporter."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from exporter.app import Exporter
from exporter.simulator import Organization, SimulatorServer
from exporter.simulator.faults import FaultPlan
from tests.support.builders import incident, make_org
from tests.support.metrics import counter, gauge

INCIDENTS = "/v1/impact/incidents"


# 24 open incidents x 4 report dates = 96 unresolved rows: 10 pages of 10.
PAGE_ARGS = (
    "--poll.page-size",
    "10",
    "--soda.retries",
    "2",
    "--soda.request-timeout",
    "1s",
    "--poll.timeout",
    "20s",
    "--datasets.interval",
    "0",
    "--poll.max-age",
    "0",
)


def ten_page_org() -> Organization:
    """24 open incidents over four report dates: 96 unresolved rows, ten pages of at most 10."""
    severities = ("minor", "major", "critical")
    return make_org([incident(n, severity=severities[n % 3]) for n in range(1, 25)])


def polled_exporter(sim: SimulatorServer, start_exporter: Callable[..., Exporter]) -> Exporter:
    """An exporter paging by PAGE_ARGS that has published one good snapshot; tests drive the polls."""
    exp = start_exporter(sim, *PAGE_ARGS, run=False)
    assert exp.pollers[0].run_cycle()
    return exp


def inject(sim: SimulatorServer, **rule: Any) -> None:
    """Make the simulator misbehave as ``rule`` says."""
    rule.setdefault("path", INCIDENTS)
    sim.set_faults(FaultPlan.from_dict({"rules": [rule]}))


def open_counts(exp: Exporter) -> dict[tuple[str, str, str], int]:
    """The published soda_incidents_open series."""
    snap = exp.state.snapshot(exp.pollers[0].organization)
    assert snap is not None
    return dict(snap.open_counts)


def failures(exp: Exporter, reason: str) -> float:
    """soda_exporter_poll_failures_total for one reason."""
    return counter(exp, "soda_exporter_poll_failures_total", reason=reason)


def assert_failed_cleanly(exp: Exporter, sim: SimulatorServer, reason: str) -> None:
    """The cycle fails, publishes nothing, counts the reason, and the next good cycle recovers."""
    before = open_counts(exp)
    published = exp.state.exposition
    count = failures(exp, reason)
    assert not exp.pollers[0].run_cycle()
    assert exp.state.exposition is published  # nothing new was published
    assert open_counts(exp) == before
    assert failures(exp, reason) == count + 1
    assert gauge(exp, "soda_up") == 0
    sim.set_faults(None)
    assert exp.pollers[0].run_cycle()
    assert gauge(exp, "soda_up") == 1
    assert open_counts(exp) == before

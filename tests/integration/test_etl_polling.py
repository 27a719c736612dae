"""ETL-aware polling: pull incidents only when Soda refreshed its data, yet keep ages current."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from exporter.app import Exporter
from exporter.simulator import SimulatorServer
from exporter.simulator.faults import FaultPlan
from tests.support.builders import incident, make_org
from tests.support.metrics import counter

StartSim = Callable[..., SimulatorServer]
StartExporter = Callable[..., Exporter]


def incident_calls(sim: SimulatorServer) -> int:
    """How many incident pages the simulator served."""
    return sum(1 for r in sim.requests_log if r.path == "/v1/impact/incidents")


def etl_calls(sim: SimulatorServer) -> int:
    """How many freshness checks the simulator answered."""
    return sum(1 for r in sim.requests_log if r.path == "/v1/last_etl_refresh")


def make(
    start_simulator: StartSim, start_exporter: StartExporter, *argv: str
) -> tuple[SimulatorServer, Exporter]:
    """A two-incident organisation and an exporter driven cycle by cycle."""
    sim = start_simulator(make_org([incident(1, severity="critical"), incident(2)]))
    exporter = start_exporter(sim, "--datasets.interval", "0", *argv, run=False)
    return sim, exporter


def test_unchanged_etl_skips_the_pull_but_recomputes_ages(
    start_simulator: StartSim, start_exporter: StartExporter
) -> None:
    clock = [datetime.now(timezone.utc)]
    sim, exporter = make(start_simulator, start_exporter)
    exporter.pollers[0]._clock = lambda: clock[0]
    assert exporter.pollers[0].run_cycle()
    pulled = incident_calls(sim)
    first = exporter.state.snapshot("default")
    clock[0] += timedelta(hours=2)
    assert exporter.pollers[0].run_cycle()
    second = exporter.state.snapshot("default")
    assert incident_calls(sim) == pulled  # nothing pulled
    assert etl_calls(sim) == 2  # but freshness checked every cycle
    assert counter(exporter, "soda_exporter_polls_skipped_total") == 1
    assert first is not None and second is not None
    assert second.open_age["critical"].sum == first.open_age["critical"].sum + 2 * 3600
    assert second.open_counts == first.open_counts


def test_a_refresh_triggers_a_pull(start_simulator: StartSim, start_exporter: StartExporter) -> None:
    sim, exporter = make(start_simulator, start_exporter)
    assert exporter.pollers[0].run_cycle()
    pulled = incident_calls(sim)
    sim.organization.apply_update("inc-0002", status="resolved")  # the simulator refreshes its data
    assert exporter.pollers[0].run_cycle()
    assert incident_calls(sim) > pulled
    snap = exporter.state.snapshot("default")
    assert snap is not None and snap.open_total == 1


def test_a_failed_cycle_forces_the_next_pull(
    start_simulator: StartSim, start_exporter: StartExporter
) -> None:
    sim, exporter = make(start_simulator, start_exporter, "--soda.retries", "0")
    assert exporter.pollers[0].run_cycle()
    sim.set_faults(
        FaultPlan.from_dict(
            {"rules": [{"kind": "http_status", "code": 500, "path": "/v1/impact/incidents", "times": 1}]}
        )
    )
    assert exporter.pollers[0].run_cycle()  # unchanged ETL: no pull, so the fault is not even reached
    sim.set_faults(
        FaultPlan.from_dict(
            {"rules": [{"kind": "http_status", "code": 500, "path": "/v1/last_etl_refresh", "times": 1}]}
        )
    )
    assert not exporter.pollers[0].run_cycle()
    pulled = incident_calls(sim)
    assert exporter.pollers[0].run_cycle()
    assert incident_calls(sim) > pulled


def test_max_age_forces_a_pull(start_simulator: StartSim, start_exporter: StartExporter) -> None:
    sim, exporter = make(start_simulator, start_exporter, "--poll.max-age", "0")
    assert exporter.pollers[0].run_cycle()
    pulled = incident_calls(sim)
    assert exporter.pollers[0].run_cycle()
    assert incident_calls(sim) == 2 * pulled
    assert counter(exporter, "soda_exporter_polls_skipped_total") == 0

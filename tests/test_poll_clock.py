"""The poller on fake time: max-age and ETL decisions, ages and timestamps follow the injected clocks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest

from exporter.exposition.metrics import ExporterMetrics
from exporter.exposition.state import ExporterState
from exporter.poll.poller import Poller
from exporter.poll.settings import PollSettings
from exporter.simulator import SimulatorServer
from exporter.soda.credentials import CredentialSource
from exporter.soda.reporting import ReportingClient
from tests.conftest import KEY_ID, KEY_SECRET, NOW, incident, make_org

StartSim = Callable[..., SimulatorServer]
MAX_AGE = 600.0


class FakeClocks:
    """A wall clock and a monotonic clock that move only when told to."""

    def __init__(self) -> None:
        self.wall = NOW
        self.mono = 1000.0

    def advance(self, seconds: float) -> None:
        """Move both clocks forward by ``seconds``."""
        self.wall += timedelta(seconds=seconds)
        self.mono += seconds


@pytest.fixture
def setup(start_simulator: StartSim) -> Iterator[tuple[SimulatorServer, Poller, ExporterMetrics, FakeClocks]]:
    sim = start_simulator(make_org([incident(1, severity="critical"), incident(2)]))
    client = ReportingClient(sim.reporting_url, CredentialSource(key_id=KEY_ID, key_secret=KEY_SECRET))
    metrics = ExporterMetrics()
    clocks = FakeClocks()
    poller = Poller(
        client,
        ExporterState(metrics),
        metrics,
        PollSettings(max_age_seconds=MAX_AGE, datasets_interval_seconds=1e9),
        clock=lambda: clocks.wall,
        monotonic=lambda: clocks.mono,
    )
    try:
        yield sim, poller, metrics, clocks
    finally:
        client.close()


def pulls(sim: SimulatorServer) -> int:
    """How many incident pages the simulator served."""
    return sum(1 for r in sim.requests_log if r.path == "/v1/impact/incidents")


def value(metrics: ExporterMetrics, name: str) -> float:
    """One unlabelled sample of the self-metrics, read through the public registry API."""
    sample = metrics.registry.get_sample_value(name)
    assert sample is not None, name
    return sample


def test_unchanged_etl_is_not_pulled_again_until_the_max_age_on_the_monotonic_clock(
    setup: tuple[SimulatorServer, Poller, ExporterMetrics, FakeClocks],
) -> None:
    sim, poller, metrics, clocks = setup
    assert poller.run_cycle()
    first = pulls(sim)
    assert first > 0
    clocks.advance(MAX_AGE - 1)
    assert poller.run_cycle()
    assert pulls(sim) == first, "pulled again before the max age"
    assert value(metrics, "soda_exporter_polls_skipped_total") == 1
    clocks.advance(1)
    assert poller.run_cycle()
    assert pulls(sim) > first, "not pulled again at the max age"
    assert value(metrics, "soda_exporter_polls_skipped_total") == 1


def test_the_max_age_counts_from_the_last_pull_not_the_last_cycle(
    setup: tuple[SimulatorServer, Poller, ExporterMetrics, FakeClocks],
) -> None:
    sim, poller, _, clocks = setup
    assert poller.run_cycle()
    first = pulls(sim)
    for _ in range(3):  # skipped cycles do not restart the max age
        clocks.advance(MAX_AGE / 4)
        assert poller.run_cycle()
    assert pulls(sim) == first
    clocks.advance(MAX_AGE / 4)
    assert poller.run_cycle()
    assert pulls(sim) > first


def test_an_etl_refresh_is_pulled_at_once_whatever_the_clocks_say(
    setup: tuple[SimulatorServer, Poller, ExporterMetrics, FakeClocks],
) -> None:
    sim, poller, _, _ = setup
    assert poller.run_cycle()
    first = pulls(sim)
    sim.organization.apply_update("inc-0002", status="resolved")  # the simulator refreshes its data
    assert poller.run_cycle()
    assert pulls(sim) > first
    snapshot = poller.state.snapshot("default")
    assert snapshot is not None and snapshot.open_total == 1


def test_ages_and_timestamps_follow_the_wall_clock_on_a_skipped_cycle(
    setup: tuple[SimulatorServer, Poller, ExporterMetrics, FakeClocks],
) -> None:
    _, poller, metrics, clocks = setup
    assert poller.run_cycle()
    first = poller.state.snapshot("default")
    assert value(metrics, "soda_exporter_last_success_timestamp_seconds") == NOW.timestamp()
    clocks.advance(3600)
    assert poller.run_cycle()
    second = poller.state.snapshot("default")
    assert first is not None and second is not None
    assert second.open_age["critical"].sum == first.open_age["critical"].sum + 3600
    assert value(metrics, "soda_exporter_last_success_timestamp_seconds") == NOW.timestamp() + 3600
    outcome = poller.state.outcomes()["default"]
    assert outcome.success and outcome.finished_at == (NOW + timedelta(hours=1)).timestamp()


def test_cycle_durations_are_measured_on_the_monotonic_clock(
    setup: tuple[SimulatorServer, Poller, ExporterMetrics, FakeClocks],
) -> None:
    _, poller, metrics, _ = setup
    assert poller.run_cycle()  # the fake monotonic clock stood still during the cycle
    assert value(metrics, "soda_exporter_poll_duration_seconds_sum") == 0.0
    assert poller.state.outcomes()["default"].duration_seconds == 0.0

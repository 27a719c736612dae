"""The poller on fake time: max-age and ETL decisions, ages and timestamps follow the injected clocks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest

from exporter.exposition.metrics import ExporterMetrics
from exporter.exposition.state import ExporterState
from exporter.poll.poller import Poller
from exporter.poll.settings import PollSettings
from exporter.simulator import SimulatorServer
from exporter.soda.credentials import CredentialSource
from exporter.soda.reporting import ReportingClient
from tests.support.builders import KEY_ID, KEY_SECRET, NOW, incident, make_org

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


@dataclass
class Rig:
    """A poller on fake clocks against a real simulator."""

    sim: SimulatorServer
    poller: Poller
    metrics: ExporterMetrics
    clocks: FakeClocks

    def cycle(self) -> int:
        """Run one cycle, which must succeed; return how many incident pages were served so far."""
        assert self.poller.run_cycle()
        return sum(1 for r in self.sim.requests_log if r.path == "/v1/impact/incidents")

    def value(self, name: str) -> float:
        """One unlabelled sample of the self-metrics, read through the public registry API."""
        sample = self.metrics.registry.get_sample_value(name)
        assert sample is not None, name
        return sample


@pytest.fixture
def rig(start_simulator: StartSim) -> Iterator[Rig]:
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
        yield Rig(sim, poller, metrics, clocks)
    finally:
        client.close()


def test_unchanged_etl_is_not_pulled_again_until_the_max_age_on_the_monotonic_clock(rig: Rig) -> None:
    first = rig.cycle()
    assert first > 0
    rig.clocks.advance(MAX_AGE - 1)
    assert rig.cycle() == first, "pulled again before the max age"
    assert rig.value("soda_exporter_polls_skipped_total") == 1
    rig.clocks.advance(1)
    assert rig.cycle() > first, "not pulled again at the max age"
    assert rig.value("soda_exporter_polls_skipped_total") == 1


def test_the_max_age_counts_from_the_last_pull_not_the_last_cycle(rig: Rig) -> None:
    first = rig.cycle()
    for _ in range(3):  # skipped cycles do not restart the max age
        rig.clocks.advance(MAX_AGE / 4)
        assert rig.cycle() == first
    rig.clocks.advance(MAX_AGE / 4)
    assert rig.cycle() > first


def test_an_etl_refresh_is_pulled_at_once_whatever_the_clocks_say(rig: Rig) -> None:
    first = rig.cycle()
    rig.sim.organization.apply_update("inc-0002", status="resolved")  # the simulator refreshes its data
    assert rig.cycle() > first
    snapshot = rig.poller.state.snapshot("default")
    assert snapshot is not None and snapshot.open_total == 1


def test_ages_and_timestamps_follow_the_wall_clock_on_a_skipped_cycle(rig: Rig) -> None:
    rig.cycle()
    first = rig.poller.state.snapshot("default")
    assert rig.value("soda_exporter_last_success_timestamp_seconds") == NOW.timestamp()
    rig.clocks.advance(3600)
    rig.cycle()
    second = rig.poller.state.snapshot("default")
    assert first is not None and second is not None
    assert second.open_age["critical"].sum == first.open_age["critical"].sum + 3600
    assert rig.value("soda_exporter_last_success_timestamp_seconds") == NOW.timestamp() + 3600
    outcome = rig.poller.state.outcomes()["default"]
    assert outcome.success and outcome.finished_at == (NOW + timedelta(hours=1)).timestamp()


def test_cycle_durations_are_measured_on_the_monotonic_clock(rig: Rig) -> None:
    rig.cycle()  # the fake monotonic clock stood still during the cycle
    assert rig.value("soda_exporter_poll_duration_seconds_sum") == 0.0
    assert rig.poller.state.outcomes()["default"].duration_seconds == 0.0

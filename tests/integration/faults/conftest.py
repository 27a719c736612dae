"""Fixtures of the fault tests: a simulator with ten pages per query, and an exporter the tests poll."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from exporter.app import Exporter
from exporter.simulator import SimulatorServer
from tests.support.faults import polled_exporter, ten_page_org


@pytest.fixture
def sim(start_simulator: Callable[..., SimulatorServer]) -> SimulatorServer:
    """24 open incidents x 4 report dates = 96 unresolved rows, in ten pages of at most 10."""
    return start_simulator(ten_page_org())


@pytest.fixture
def exporter(sim: SimulatorServer, start_exporter: Callable[..., Exporter]) -> Exporter:
    """An exporter asking for pages of 10 that has published one good snapshot; the tests drive the polls."""
    return polled_exporter(sim, start_exporter)

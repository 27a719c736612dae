"""Shared fixtures: a real simulator over HTTP, hand-built organisations, and in-process exporters."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from exporter.app import Exporter
from exporter.config.arguments import parse_args
from exporter.simulator import (
    Organization,
    SimulatorServer,
    generate_organization,
)
from tests.support.builders import KEY_ID, KEY_SECRET, sim_env
from tests.support.factories import stopping
from tests.support.paths import TESTS

LAYERS = ("unit", "integration", "e2e")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with its layer (its directory under tests/), so ``-m`` can pick one."""
    for item in items:
        layer = item.path.relative_to(TESTS).parts[0]
        if layer in LAYERS:
            item.add_marker(layer)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the developer's SODA_* variables out of tests."""
    for name in list(os.environ):
        if name.startswith("SODA_") and name != "SODA_EXPORTER_REQUIRE_E2E":
            monkeypatch.delenv(name)


@pytest.fixture
def start_simulator() -> Iterator[Callable[..., SimulatorServer]]:
    """Factory: start a simulator for an organisation; all are stopped at teardown."""
    with stopping(SimulatorServer.stop) as keep:

        def start(org: Organization | None = None, **kwargs: Any) -> SimulatorServer:
            kwargs.setdefault("api_key_id", KEY_ID)
            kwargs.setdefault("api_key_secret", KEY_SECRET)
            sim = SimulatorServer(
                org or generate_organization(seed=7, incidents=150, datasets=8, days=60), **kwargs
            )
            sim.start()
            return keep(sim)

        yield start


@pytest.fixture
def simulator(start_simulator: Callable[..., SimulatorServer]) -> SimulatorServer:
    """A simulator on the default seeded demo-like organisation."""
    return start_simulator()


@pytest.fixture
def start_exporter() -> Iterator[Callable[..., Exporter]]:
    """Factory: an in-process exporter on a free port against a simulator; stopped at teardown."""
    with stopping(Exporter.stop) as keep:

        def start(
            sim: SimulatorServer, *argv: str, env: dict[str, str] | None = None, run: bool = True
        ) -> Exporter:
            args = ["--web.listen-address", "127.0.0.1:0", "--poll.interval", "1h", *argv]
            exporter = keep(Exporter(parse_args(args, env if env is not None else sim_env(sim))))
            if run:
                exporter.start()
            return exporter

        yield start


@pytest.fixture
def ready_exporter(simulator: SimulatorServer, start_exporter: Callable[..., Exporter]) -> Exporter:
    """An in-process exporter against the default simulator, once its first poll has succeeded."""
    exporter = start_exporter(simulator)
    assert exporter.state.wait_ready(20), "the first poll did not succeed"
    return exporter

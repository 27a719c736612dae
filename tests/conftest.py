"""Shared fixtures: a real simulator over HTTP, hand-built organisations, and in-process exporters."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from exporter.app import Exporter
from exporter.config.arguments import parse_args
from exporter.simulator import (
    Dataset,
    Incident,
    Organization,
    SimulatorServer,
    StateChange,
    generate_organization,
)

KEY_ID = "test-key-id-0001"
KEY_SECRET = "test-secret-do-not-log-5b1f"
NOW = datetime.now(timezone.utc).replace(microsecond=0)


def free_port() -> int:
    """A TCP port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_org(incidents: list[Incident], *, datasets: int = 2, now: datetime = NOW) -> Organization:
    """An organisation from explicit incident histories."""
    sets = [
        Dataset(f"ds-{n}", f"dataset_{n}", f"Dataset {n}", "src-1", "warehouse", f"owner{n}@example.com")
        for n in range(datasets)
    ]
    return Organization(organization_id="org-test", datasets=sets, incidents=incidents, now=now)


def incident(
    number: int,
    *,
    dataset: str = "ds-0",
    severity: str = "major",
    created: datetime | None = None,
    changes: list[StateChange] | None = None,
    deleted: datetime | None = None,
) -> Incident:
    """One incident created ``created`` (default: ten days ago)."""
    return Incident(
        incident_id=f"inc-{number:04d}",
        number=number,
        dataset_id=dataset,
        check_id=f"check-{number}",
        check_name=f"check_{number}",
        title=f"Incident {number}",
        created_at=created or NOW - timedelta(days=10),
        severity=severity,
        lead_email=f"lead{number}@example.com",
        changes=changes or [],
        deleted_at=deleted,
    )


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the developer's SODA_* variables out of tests."""
    for name in list(os.environ):
        if name.startswith("SODA_") and name != "SODA_EXPORTER_REQUIRE_E2E":
            monkeypatch.delenv(name)


@pytest.fixture
def start_simulator() -> Iterator[Callable[..., SimulatorServer]]:
    """Factory: start a simulator for an organisation; all are stopped at teardown."""
    started: list[SimulatorServer] = []

    def start(org: Organization | None = None, **kwargs: Any) -> SimulatorServer:
        kwargs.setdefault("api_key_id", KEY_ID)
        kwargs.setdefault("api_key_secret", KEY_SECRET)
        sim = SimulatorServer(
            org or generate_organization(seed=7, incidents=150, datasets=8, days=60), **kwargs
        )
        sim.start()
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.stop()


@pytest.fixture
def simulator(start_simulator: Callable[..., SimulatorServer]) -> SimulatorServer:
    """A simulator on the default seeded demo-like organisation."""
    return start_simulator()


def sim_env(sim: SimulatorServer, **extra: str) -> dict[str, str]:
    """Environment pointing the exporter at ``sim`` with valid credentials."""
    return {
        "SODA_REPORTING_URL": sim.reporting_url,
        "SODA_CLOUD_URL": sim.cloud_url,
        "SODA_API_KEY_ID": KEY_ID,
        "SODA_API_KEY_SECRET": KEY_SECRET,
        **extra,
    }


@pytest.fixture
def start_exporter() -> Iterator[Callable[..., Exporter]]:
    """Factory: an in-process exporter on a free port against a simulator; stopped at teardown."""
    started: list[Exporter] = []

    def start(
        sim: SimulatorServer, *argv: str, env: dict[str, str] | None = None, run: bool = True
    ) -> Exporter:
        args = ["--web.listen-address", "127.0.0.1:0", "--poll.interval", "1h", *argv]
        exporter = Exporter(parse_args(args, env if env is not None else sim_env(sim)))
        started.append(exporter)
        if run:
            exporter.start()
        return exporter

    yield start
    for exporter in started:
        exporter.stop()


def wait_until(predicate: Callable[[], bool], timeout: float = 15.0, interval: float = 0.05) -> None:
    """Poll ``predicate`` until true or fail the test."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    pytest.fail(f"condition not met within {timeout}s")


def wait_http_ready(port: int, timeout: float = 30.0) -> None:
    """Wait until a local exporter process answers /readyz with 200."""

    def ready() -> bool:
        try:
            return requests.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200
        except requests.ConnectionError:
            return False

    wait_until(ready, timeout=timeout)


def scrape(port: int, path: str = "/metrics", **headers: str) -> requests.Response:
    """GET a path of a local exporter."""
    return requests.get(f"http://127.0.0.1:{port}{path}", headers=headers, timeout=10)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Parse text exposition into {(sample name, sorted labels): value}."""
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def series(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """All samples of one sample name, keyed by sorted labels."""
    return {labels: value for (sample, labels), value in samples(text).items() if sample == name}

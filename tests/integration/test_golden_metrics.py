"""Golden test of the incident exposition: the demo organisation at a fixed seed and a frozen clock.

Any change to what /metrics shows of incidents shows up as a diff against tests/data/golden/. After an
intended change, regenerate the file and review the diff:

    SODA_EXPORTER_UPDATE_GOLDEN=1 pytest tests/integration/test_golden_metrics.py
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable
from datetime import datetime, timezone

from exporter.exposition.metrics import ExporterMetrics
from exporter.exposition.state import ExporterState
from exporter.poll.poller import Poller
from exporter.poll.settings import PollSettings
from exporter.simulator import SimulatorServer, generate_organization
from exporter.soda.credentials import CredentialSource
from exporter.soda.reporting import ReportingClient
from tests.support.builders import KEY_ID, KEY_SECRET
from tests.support.paths import DATA

GOLDEN = DATA / "golden"
FROZEN = datetime(2026, 11, 20, 14, 30, tzinfo=timezone.utc)
UPDATE_VAR = "SODA_EXPORTER_UPDATE_GOLDEN"
# Read at import: the autouse fixture in conftest clears SODA_* variables before each test runs.
UPDATE = os.environ.get(UPDATE_VAR) == "1"


def render_demo(start_simulator: Callable[..., SimulatorServer]) -> tuple[str, str]:
    """One poll cycle of the demo organisation at FROZEN: the text and OpenMetrics expositions."""
    sim = start_simulator(generate_organization(now=FROZEN))
    client = ReportingClient(sim.reporting_url, CredentialSource(key_id=KEY_ID, key_secret=KEY_SECRET))
    metrics = ExporterMetrics()
    state = ExporterState(metrics)
    poller = Poller(client, state, metrics, PollSettings(), clock=lambda: FROZEN)
    try:
        assert poller.run_cycle(), "the demo cycle failed"
    finally:
        client.close()
    exposition = state.exposition
    return exposition.text.decode(), exposition.openmetrics.decode()


def check_golden(name: str, actual: str) -> None:
    """Compare with the golden file, or rewrite it when UPDATE_VAR is set."""
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual)
    expected = path.read_text()
    if actual != expected:
        lines = difflib.unified_diff(
            expected.splitlines(keepends=True), actual.splitlines(keepends=True), str(path), "rendered", n=1
        )
        diff = "".join(lines)
        raise AssertionError(f"{name} differs from the golden file ({UPDATE_VAR}=1 regenerates it):\n{diff}")


def test_demo_exposition_matches_the_golden_files(start_simulator: Callable[..., SimulatorServer]) -> None:
    text, openmetrics = render_demo(start_simulator)
    assert "soda_incidents_open{" in text
    check_golden("demo-metrics.prom", text)
    check_golden("demo-metrics.om.txt", openmetrics)

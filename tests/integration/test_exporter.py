"""The exporter end to end in-process: simulator over HTTP -> poll -> snapshot -> /metrics."""

from __future__ import annotations

import gzip
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

import pytest
import requests

from exporter.app import Exporter
from exporter.simulator import SimulatorServer, StateChange
from tests.support.builders import NOW, incident, make_org
from tests.support.http import scrape, series
from tests.support.waiting import wait_until

StartSim = Callable[..., SimulatorServer]
StartExporter = Callable[..., Exporter]

EXPECTED_FAMILIES = [
    "soda_incidents_open",
    "soda_incident_open_age_seconds_bucket",
    "soda_incident_open_age_seconds_gcount",
    "soda_incident_open_age_seconds_gsum",
    "soda_incidents_resolved",
    "soda_incident_resolution_duration_seconds_bucket",
    "soda_incident_info",
    "soda_incident_created_timestamp_seconds",
    "soda_incident_info_truncated",
    "soda_reporting_report_date_timestamp_seconds",
    "soda_reporting_last_etl_refresh_timestamp_seconds",
    "soda_up",
    "soda_exporter_last_success_timestamp_seconds",
    "soda_exporter_poll_duration_seconds_bucket",
    "soda_exporter_polls_total",
    "soda_exporter_poll_failures_total",
    "soda_exporter_api_requests_total",
    "soda_exporter_build_info",
    "process_cpu_seconds_total",
]


def polled(start_exporter: StartExporter, sim: SimulatorServer, *argv: str) -> Exporter:
    """An exporter that has completed one successful cycle (the HTTP side is running)."""
    exporter = start_exporter(sim, *argv)
    assert exporter.state.wait_ready(20), "first poll did not succeed"
    return exporter


def test_every_metric_is_served_and_open_counts_match_the_simulator(
    simulator: SimulatorServer, start_exporter: StartExporter
) -> None:
    exporter = polled(start_exporter, simulator)
    text = scrape(exporter.port).text
    for name in EXPECTED_FAMILIES:
        assert f"\n{name}" in text, f"{name} missing"
    truth = Counter((s.dataset_id, s.severity, s.status) for s in simulator.organization.open_incidents())
    served = {
        (dict(k)["dataset_id"], dict(k)["severity"], dict(k)["status"]): v
        for k, v in series(text, "soda_incidents_open").items()
    }
    assert {k: v for k, v in served.items() if v} == dict(truth)
    assert sum(served.values()) == len(simulator.organization.open_incidents()) > 0
    up = series(text, "soda_up")
    assert up == {(): 1.0}
    info = series(text, "soda_incident_info")
    assert len(info) == min(500, sum(truth.values()))


def test_resolved_incident_drops_to_zero_and_changes_show_next_cycle(
    start_simulator: StartSim, start_exporter: StartExporter
) -> None:
    org = make_org([incident(1, severity="critical"), incident(2, severity="minor")])
    sim = start_simulator(org)
    exporter = polled(start_exporter, sim)
    key = (("dataset_id", "ds-0"), ("severity", "critical"), ("status", "reported"))
    assert series(scrape(exporter.port).text, "soda_incidents_open")[key] == 1
    org.apply_update("inc-0001", status="resolved")
    org.apply_update("inc-0002", severity="major", status="fixing")
    assert exporter.pollers[0].run_cycle()
    text = scrape(exporter.port).text
    opened = series(text, "soda_incidents_open")
    assert opened[key] == 0
    assert opened[(("dataset_id", "ds-0"), ("severity", "major"), ("status", "fixing"))] == 1
    assert opened[(("dataset_id", "ds-0"), ("severity", "minor"), ("status", "reported"))] == 0
    resolved = series(text, "soda_incidents_resolved")
    assert resolved[(("dataset_id", "ds-0"), ("severity", "critical"))] == 1


def test_incident_that_disappears_is_not_open(
    start_simulator: StartSim, start_exporter: StartExporter
) -> None:
    org = make_org([incident(1), incident(2, deleted=NOW - timedelta(days=1))])
    exporter = polled(start_exporter, start_simulator(org))
    assert sum(series(scrape(exporter.port).text, "soda_incidents_open").values()) == 1


@pytest.mark.slow
def test_failed_cycle_keeps_the_last_snapshot_and_sets_up_to_zero(
    start_simulator: StartSim, start_exporter: StartExporter
) -> None:
    org = make_org(
        [
            incident(n, changes=[StateChange(NOW - timedelta(days=2), status="investigating")])
            for n in range(1, 4)
        ]
    )
    sim = start_simulator(org)
    exporter = polled(start_exporter, sim)
    before = series(scrape(exporter.port).text, "soda_incidents_open")
    sim.stop()
    exporter.pollers[0].client.close()  # drop kept-alive connections, so the next cycle has to reconnect
    assert not exporter.pollers[0].run_cycle()
    text = scrape(exporter.port).text
    assert series(text, "soda_incidents_open") == before
    assert series(text, "soda_up") == {(): 0.0}
    failures = series(text, "soda_exporter_poll_failures_total")
    assert failures[(("reason", "connection"),)] == 1
    assert failures[(("reason", "auth"),)] == 0  # every reason exists from the start


def test_content_negotiation_and_gzip(simulator: SimulatorServer, start_exporter: StartExporter) -> None:
    port = polled(start_exporter, simulator).port
    plain = scrape(port)
    assert plain.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    om = scrape(port, Accept="application/openmetrics-text; version=1.0.0,text/plain;q=0.5")
    assert om.headers["Content-Type"].startswith("application/openmetrics-text; version=1.0.0")
    assert om.text.endswith("# EOF\n") and om.text.count("# EOF") == 1
    assert "# TYPE soda_incident_open_age_seconds gaugehistogram" in om.text
    raw = requests.get(
        f"http://127.0.0.1:{port}/metrics", headers={"Accept-Encoding": "gzip"}, stream=True, timeout=10
    )
    assert raw.headers["Content-Encoding"] == "gzip"
    body = gzip.decompress(raw.raw.read())
    assert b"soda_incidents_open{" in body and b"soda_up " in body


def test_http_endpoints(simulator: SimulatorServer, start_exporter: StartExporter) -> None:
    port = polled(start_exporter, simulator).port
    assert scrape(port, "/healthz").status_code == 200
    assert scrape(port, "/readyz").status_code == 200
    landing = scrape(port, "/")
    assert landing.status_code == 200 and "/metrics" in landing.text and "success" in landing.text
    assert scrape(port, "/nope").status_code == 404
    post = requests.post(f"http://127.0.0.1:{port}/metrics", data=b"x", timeout=5)
    assert post.status_code == 405 and post.headers["Allow"] == "GET, HEAD"
    big = requests.post(
        f"http://127.0.0.1:{port}/metrics", headers={"Content-Length": str(10 << 20)}, timeout=5
    )
    assert big.status_code == 413


def test_bad_credentials_never_ready(simulator: SimulatorServer, start_exporter: StartExporter) -> None:
    env = {
        "SODA_REPORTING_URL": simulator.reporting_url,
        "SODA_API_KEY_ID": "nobody",
        "SODA_API_KEY_SECRET": "not-the-secret-123",
    }
    exporter = start_exporter(simulator, env=env)
    wait_until(lambda: bool(exporter.state.outcomes()))
    assert scrape(exporter.port, "/readyz").status_code == 503
    text = scrape(exporter.port).text
    assert series(text, "soda_up") == {(): 0.0}
    assert series(text, "soda_exporter_poll_failures_total")[(("reason", "auth"),)] >= 1
    assert "not-the-secret-123" not in text
    assert "not-the-secret-123" not in scrape(exporter.port, "/").text

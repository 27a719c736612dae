"""Stale reporting data (an ETL outage): the open incidents are those at the latest report date."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

import pytest

from exporter.app import Exporter
from exporter.incidents.snapshot import midnight_utc
from exporter.poll.windows import newest_day
from exporter.simulator import SimulatorServer, generate_organization
from exporter.simulator.cli import build_server, parse_simulator_args
from exporter.simulator.faults import FaultPlan
from tests.support.builders import NOW, make_org
from tests.support.http import series
from tests.support.metrics import gauge

StartSim = Callable[..., SimulatorServer]
StartExporter = Callable[..., Exporter]
NULL_ETL = json.dumps({"resource": "last_etl_refresh", "data": {"last_etl_refresh_at": None}})


def stale_simulator(start_simulator: StartSim, days: int, history: int = 90) -> SimulatorServer:
    """A simulator with ``history`` days of incidents whose ETL stopped ``days`` days ago."""
    org = generate_organization(seed=7, incidents=150, datasets=8, days=history, now=NOW)
    org.set_etl_outage(timedelta(days=days))
    return start_simulator(org)


def assert_shows_the_latest_report_date(sim: SimulatorServer, exporter: Exporter, days: int) -> None:
    """Open counts equal the truth at the latest report date, soda_up is 1, and the staleness shows."""
    org = sim.organization
    truth = len(org.open_incidents())
    assert truth > 0
    assert exporter.pollers[0].run_cycle()
    snap = exporter.state.snapshot("default")
    assert snap is not None
    assert snap.open_total == truth
    assert snap.latest_report_date == (NOW - timedelta(days=days)).date() == org.latest_report_date()
    assert gauge(exporter, "soda_up") == 1
    outcome = exporter.state.outcomes()["default"]
    assert outcome.latest_report_date == org.latest_report_date()
    text = exporter.state.exposition.text.decode()
    assert series(text, "soda_reporting_report_date_timestamp_seconds") == {
        (): midnight_utc(org.latest_report_date())
    }


@pytest.mark.parametrize("days", [1, 3, 5, 40])
def test_stale_data_still_shows_the_open_incidents(
    start_simulator: StartSim, start_exporter: StartExporter, days: int
) -> None:
    sim = stale_simulator(start_simulator, days)
    exporter = start_exporter(sim, "--datasets.interval", "0", run=False)
    assert_shows_the_latest_report_date(sim, exporter, days)


@pytest.mark.parametrize("days", [5, 40])
def test_stale_data_without_an_etl_time_is_found_from_the_rows(
    start_simulator: StartSim, start_exporter: StartExporter, days: int
) -> None:
    sim = stale_simulator(start_simulator, days)
    rule = {"kind": "http_status", "code": 200, "path": "/v1/last_etl_refresh", "body": NULL_ETL}
    sim.set_faults(FaultPlan.from_dict({"rules": [rule]}))
    # 5 days: the resolved window still holds the latest date; 40 days: both windows miss it, and it is
    # searched for.
    exporter = start_exporter(sim, "--datasets.interval", "0", run=False)
    assert_shows_the_latest_report_date(sim, exporter, days)


def test_the_search_for_the_latest_date_takes_few_small_requests(
    start_simulator: StartSim, start_exporter: StartExporter
) -> None:
    sim = stale_simulator(start_simulator, 200, history=360)
    rule = {"kind": "http_status", "code": 200, "path": "/v1/last_etl_refresh", "body": NULL_ETL}
    sim.set_faults(FaultPlan.from_dict({"rules": [rule]}))
    exporter = start_exporter(sim, "--datasets.interval", "0", run=False)
    assert_shows_the_latest_report_date(sim, exporter, 200)
    probes = [r for r in sim.requests_log if isinstance(r.body, dict) and r.body.get("size") == 1]
    assert 2 <= len(probes) <= 2 * 10  # a bisection over 400 days per status


def test_an_empty_organization_is_empty_not_an_error(
    start_simulator: StartSim, start_exporter: StartExporter
) -> None:
    sim = start_simulator(make_org([]))
    exporter = start_exporter(sim, "--datasets.interval", "0", run=False)
    assert exporter.pollers[0].run_cycle()
    snap = exporter.state.snapshot("default")
    assert snap is not None and snap.open_total == 0 and snap.latest_report_date is None
    probes = [r for r in sim.requests_log if isinstance(r.body, dict) and r.body.get("size") == 1]
    assert len(probes) == 2  # one look for each status over the whole search horizon


def test_the_simulator_flag_stops_the_etl_in_the_past() -> None:
    argv = ["--simulator.etl-outage", "5d", "--simulator.now", NOW.isoformat(), "--web.listen-address", ":0"]
    options = parse_simulator_args(argv, {})
    server = build_server(options)
    server.stop()  # never started: only its organisation is looked at
    org = server.organization
    assert org.latest_report_date() == (NOW - timedelta(days=5)).date()
    assert org.etl_refresh_at == NOW - timedelta(days=5)
    org.apply_update(org.open_incidents()[0].incident_id, status="resolved")
    assert org.etl_refresh_at == NOW - timedelta(days=5)  # no ETL runs during the outage


@pytest.mark.parametrize("boundary", [0, 1, 7, 200, 400])
def test_newest_day_finds_the_boundary(boundary: int) -> None:
    first = NOW.date() - timedelta(days=400)
    calls: list[object] = []

    def exists(day: object) -> bool:
        calls.append(day)
        return day <= first + timedelta(days=boundary)  # type: ignore[operator]

    assert newest_day(exists, first, NOW.date()) == first + timedelta(days=boundary)
    assert len(calls) <= 11
    assert newest_day(lambda day: False, first, NOW.date()) is None

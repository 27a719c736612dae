"""Stale reporting data (an ETL outage): the open incidents are those at the latest report date."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from datetime import timedelta

import pytest

from exporter.app import Exporter
from exporter.simulator import SimulatorServer, generate_organisation
from exporter.simulator.cli import add_simulator_arguments, build_server
from exporter.simulator.faults import FaultPlan
from exporter.snapshot import midnight_utc
from tests.conftest import NOW, series

StartSim = Callable[..., SimulatorServer]
StartExporter = Callable[..., Exporter]
NULL_ETL = json.dumps({"resource": "last_etl_refresh", "data": {"last_etl_refresh_at": None}})


def stale_simulator(start_simulator: StartSim, days: int) -> SimulatorServer:
    """A simulator whose ETL stopped ``days`` days ago."""
    org = generate_organisation(seed=7, incidents=150, datasets=8, days=90, now=NOW)
    org.set_etl_outage(timedelta(days=days))
    return start_simulator(org)


def assert_shows_the_latest_report_date(sim: SimulatorServer, exporter: Exporter, days: int) -> None:
    """Open counts equal the truth at the latest report date, soda_up is 1, and the staleness shows."""
    org = sim.organisation
    truth = len(org.open_incidents())
    assert truth > 0
    assert exporter.poller.run_cycle()
    snap = exporter.state.snapshot("default")
    assert snap is not None
    assert snap.open_total == truth
    assert snap.latest_report_date == (NOW - timedelta(days=days)).date() == org.latest_report_date()
    assert exporter.metrics.up._value.get() == 1
    outcome = exporter.state.outcomes()["default"]
    assert outcome.latest_report_date == org.latest_report_date()
    text = exporter.metrics.exposition.text.decode()
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
    # The resolved window must reach the data for the rows to reveal the latest date.
    exporter = start_exporter(sim, "--datasets.interval", "0", "--resolved.window", "60d", run=False)
    assert_shows_the_latest_report_date(sim, exporter, days)


def test_the_simulator_flag_stops_the_etl_in_the_past() -> None:
    parser = argparse.ArgumentParser()
    add_simulator_arguments(parser)
    args = parser.parse_args(["--simulator.etl-outage", "5d", "--simulator.now", NOW.isoformat()])
    org = build_server(args).organisation
    assert org.latest_report_date() == (NOW - timedelta(days=5)).date()
    assert org.etl_refresh_at == NOW - timedelta(days=5)
    org.apply_update(org.open_incidents()[0].incident_id, status="resolved")
    assert org.etl_refresh_at == NOW - timedelta(days=5)  # no ETL runs during the outage

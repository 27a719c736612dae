"""Paging by what the server says: its page size, its total and the rows it really sends."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from exporter.app import Exporter
from exporter.simulator import SimulatorServer
from exporter.simulator.reporting_api import NO_CONTENT_DETAIL
from exporter.soda.pages import Page
from tests.support.builders import incident, make_org
from tests.support.faults import INCIDENTS, assert_failed_cleanly, failures, inject, open_counts

StartSim = Callable[..., SimulatorServer]


def unresolved_pages(sim: SimulatorServer) -> list[tuple[int, int]]:
    """(page asked, size asked) of every unresolved incidents request answered 200."""
    return sorted(
        (r.body["page"], r.body["size"])
        for r in sim.requests_log
        if r.path == INCIDENTS and r.status == 200 and r.body.get("status") == "unresolved"
    )


def test_a_server_serving_smaller_pages_than_asked_is_paged_by_its_size(
    sim: SimulatorServer, exporter: Exporter
) -> None:
    before = open_counts(exporter)
    sim.reporting.max_page_size = 4  # the server caps size at 4 and says so; the exporter asks for 10
    sim.clear_records()
    assert exporter.pollers[0].run_cycle()
    assert open_counts(exporter) == before
    assert sum(before.values()) == 24
    assert unresolved_pages(sim) == [(n, 10) for n in range(1, 25)]  # 96 rows / 4 = 24 pages
    assert failures(exporter, "pagination_drift") == 0


def test_real_drift_is_still_detected_when_the_server_caps_the_size(
    sim: SimulatorServer, exporter: Exporter
) -> None:
    sim.reporting.max_page_size = 4
    inject(sim, kind="total_drift", delta=1000)
    assert_failed_cleanly(exporter, sim, "pagination_drift")


def test_a_202_before_total_is_reached_fails_the_cycle_safely(
    sim: SimulatorServer, exporter: Exporter
) -> None:
    body = json.dumps({"resource": "incidents", "data": [], "detail": NO_CONTENT_DETAIL})
    inject(sim, kind="http_status", code=202, page=3, status="unresolved", body=body)
    assert_failed_cleanly(exporter, sim, "pagination_drift")


@pytest.mark.parametrize(
    ("page", "size"),
    [
        (Page(total=2254, rows=[{}] * 400, size=400), 400),  # says its size
        (Page(total=2254, rows=[{}] * 400), 400),  # does not say: the rows it sent
        (Page(total=30, rows=[{}] * 30), 1000),  # a single short page is the last one
        (Page(total=2254, rows=[{}] * 1000), 1000),
    ],
)
def test_the_page_size_comes_from_the_server(
    sim: SimulatorServer, exporter: Exporter, page: Page, size: int
) -> None:
    client = exporter.pollers[0].client
    client.page_size = 1000
    assert client._served_size(page) == size


def test_a_server_capping_size_at_400_while_1000_is_asked(
    start_simulator: StartSim, start_exporter: Callable[..., Exporter]
) -> None:
    # 300 incidents open for ten days: 4 report dates in the lookback window, 1,200 unresolved rows.
    sim = start_simulator(make_org([incident(n) for n in range(1, 301)]), max_page_size=400)
    exporter = start_exporter(sim, "--datasets.interval", "0", run=False)
    assert exporter.pollers[0].run_cycle()
    snap = exporter.state.snapshot("default")
    assert snap is not None and snap.open_total == len(sim.organization.open_incidents()) == 300
    asked = unresolved_pages(sim)
    assert asked == [(1, 1000), (2, 1000), (3, 1000)]  # 1,200 rows in pages of the server's 400
    assert exporter.state.ready

"""Every fault Soda Cloud can throw, injected by the simulator over real HTTP, and what the exporter does."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pytest
from structlog.testing import capture_logs

from exporter.app import Exporter
from exporter.simulator import SimulatorServer
from tests.support.faults import (
    INCIDENTS,
    PAGE_ARGS,
    assert_failed_cleanly,
    failures,
    inject,
    open_counts,
)
from tests.support.http import scrape, series
from tests.support.metrics import counter
from tests.support.waiting import wait_until

StartSim = Callable[..., SimulatorServer]


def requests_to(sim: SimulatorServer, page: int, status: str = "unresolved") -> list[int]:
    """Answers the simulator gave to one page of one query."""
    return [
        r.status
        for r in sim.requests_log
        if r.path == INCIDENTS
        and isinstance(r.body, dict)
        and r.body.get("page") == page
        and r.body.get("status", "unresolved") == status
    ]


@pytest.mark.parametrize(
    ("rule", "reason"),
    [
        ({"kind": "http_status", "code": 500, "page": 3}, "server_error"),
        ({"kind": "http_status", "code": 502}, "server_error"),
        ({"kind": "http_status", "code": 504, "page": 2}, "server_error"),
        ({"kind": "rate_limited", "page": 2}, "rate_limited"),
        ({"kind": "http_status", "code": 401}, "auth"),
        ({"kind": "http_status", "code": 403, "page": 4}, "auth"),
        ({"kind": "http_status", "code": 400, "page": 2}, "client_error"),
        pytest.param({"kind": "delay", "seconds": 1.5, "page": 2}, "timeout", marks=pytest.mark.slow),
        ({"kind": "reset_mid_body", "page": 2}, "connection"),
        ({"kind": "truncated_json", "page": 5}, "bad_response"),
        ({"kind": "malformed_json", "page": 1}, "bad_response"),
        (
            {
                "kind": "wrong_content_type",
                "page": 3,
                "content_type": "text/html",
                "body": "<html>gateway</html>",
            },
            "bad_response",
        ),
        ({"kind": "total_drift", "page": 3, "delta": 2}, "pagination_drift"),
        ({"kind": "duplicate_rows", "page": 4}, "pagination_drift"),
        ({"kind": "empty_page", "page": 6}, "pagination_drift"),
        ({"kind": "http_status", "code": 503, "path": "/v1/last_etl_refresh"}, "server_error"),
    ],
)
def test_a_cycle_that_cannot_complete_publishes_nothing(
    sim: SimulatorServer, exporter: Exporter, rule: dict[str, Any], reason: str
) -> None:
    inject(sim, **rule)
    assert_failed_cleanly(exporter, sim, reason)


@pytest.mark.parametrize("code", [400, 401, 403, 404, 422])
def test_4xx_other_than_429_is_never_retried(sim: SimulatorServer, exporter: Exporter, code: int) -> None:
    sim.clear_records()
    inject(sim, kind="http_status", code=code, page=2)
    assert not exporter.pollers[0].run_cycle()
    assert requests_to(sim, 2) == [code]


@pytest.mark.parametrize(
    ("rule", "answers"),
    [
        ({"kind": "http_status", "code": 503, "times": 2}, [503, 503, 200]),
        ({"kind": "http_status", "code": 500, "times": 1}, [500, 200]),
        ({"kind": "rate_limited", "times": 1, "retry_after": 1}, [429, 200]),
        ({"kind": "rate_limited", "times": 1}, [429, 200]),
        ({"kind": "delay", "seconds": 1.5, "times": 1}, [200, 200]),
    ],
)
def test_transient_faults_are_retried_within_the_cycle(
    sim: SimulatorServer, exporter: Exporter, rule: dict[str, Any], answers: list[int]
) -> None:
    sim.clear_records()
    inject(sim, page=2, **rule)
    assert exporter.pollers[0].run_cycle()
    # A delayed answer is logged (as a 200) only when the simulator sends it, after the client gave up.
    wait_until(lambda: len(requests_to(sim, 2)) >= len(answers), timeout=10)
    assert requests_to(sim, 2) == answers


@pytest.mark.parametrize("form", ["seconds", "http-date"])
def test_retry_after_is_honoured_in_both_forms(sim: SimulatorServer, exporter: Exporter, form: str) -> None:
    value: Any = 2 if form == "seconds" else email.utils.formatdate(time.time() + 3, usegmt=True)
    inject(sim, kind="http_status", code=503, page=2, times=1, retry_after=value)
    started = time.monotonic()
    assert exporter.pollers[0].run_cycle()
    assert time.monotonic() - started >= 1.5


def test_retry_after_is_capped(sim: SimulatorServer, start_exporter: Callable[..., Exporter]) -> None:
    exp = start_exporter(sim, *PAGE_ARGS, "--soda.max-retry-after", "1s", run=False)
    inject(sim, kind="http_status", code=503, page=2, times=1, retry_after=600)
    started = time.monotonic()
    assert exp.pollers[0].run_cycle()
    assert time.monotonic() - started < 5


def test_drift_once_restarts_from_page_one_and_succeeds(sim: SimulatorServer, exporter: Exporter) -> None:
    before = open_counts(exporter)
    sim.clear_records()
    inject(sim, kind="total_drift", page=3, delta=-1, times=1)
    assert exporter.pollers[0].run_cycle()
    assert requests_to(sim, 1).count(200) == 2  # the unresolved query started over once
    assert open_counts(exporter) == before


def test_pagination_is_bounded_when_total_keeps_growing(sim: SimulatorServer, exporter: Exporter) -> None:
    sim.clear_records()
    inject(sim, kind="total_drift", delta=1000)
    assert not exporter.pollers[0].run_cycle()
    pages = [r for r in sim.requests_log if r.path == INCIDENTS]
    # Each of the 3 attempts stops at the first 202 past the real data, plus what was in flight: pages
    # are read last first, so that is the first page read after page 1.
    assert 3 * 2 <= len(pages) <= 3 * (11 + 4)
    assert failures(exporter, "pagination_drift") == 1


def skip_warnings(logs: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The "rows skipped" log lines captured."""
    return [entry for entry in logs if entry["event"] == "rows skipped"]


def test_unusable_rows_are_skipped_counted_and_warned_once(sim: SimulatorServer, exporter: Exporter) -> None:
    inject(sim, kind="null_fields", fields=["report_date", "incident_id"], rows=1, status="unresolved")
    with capture_logs() as logs:
        assert exporter.pollers[0].run_cycle()
    skipped = counter(exporter, "soda_exporter_rows_skipped_total", reason="missing_incident_id")
    assert skipped == 10  # one row on each of the ten pages
    warnings = skip_warnings(logs)
    assert len(warnings) == 1  # one warning for the cycle, not one per row
    assert warnings[0]["log_level"] == "warning"
    assert warnings[0]["skipped"] == {"missing_incident_id": 10}
    # Page 10 holds rows of the latest report date: its first row's incident has no usable created_at.
    inject(sim, kind="null_fields", fields=["created_at"], rows=1, status="unresolved", page=10)
    with capture_logs() as logs:
        assert exporter.pollers[0].run_cycle()
    assert counter(exporter, "soda_exporter_rows_skipped_total", reason="bad_created_at") == 1
    assert [w["skipped"] for w in skip_warnings(logs)] == [{"bad_created_at": 1}]
    assert sum(open_counts(exporter).values()) == 24  # and the incident still counts as open


def test_unknown_values_are_kept_lower_cased(sim: SimulatorServer, exporter: Exporter) -> None:
    inject(sim, kind="unknown_values", values={"severity": "Blocker", "status": "On Hold"})
    assert exporter.pollers[0].run_cycle()
    counts = open_counts(exporter)
    assert sum(v for (_, sev, st), v in counts.items() if (sev, st) == ("blocker", "on hold")) == 24


@pytest.mark.parametrize("kind", ["naive_timestamps", "non_utc_timestamps"])
def test_naive_and_offset_timestamps_give_the_same_ages(
    sim: SimulatorServer, exporter: Exporter, kind: str
) -> None:
    inject(sim, kind=kind)
    assert exporter.pollers[0].run_cycle()
    snap = exporter.state.snapshot(exporter.pollers[0].organization)
    assert snap is not None
    expected = sorted(inc.created_at.timestamp() for inc in sim.organization.incidents)
    created = [inc.created_at for inc in snap.incidents if inc.created_at is not None]
    assert len(created) == len(snap.incidents)  # every timestamp was read, none dropped as unusable
    assert sorted(created) == expected


def test_metrics_show_the_failure_without_losing_the_last_good_data(
    sim: SimulatorServer, exporter: Exporter
) -> None:
    exporter.start(poll=False)
    good = series(scrape(exporter.port).text, "soda_incidents_open")
    inject(sim, kind="http_status", code=500)
    assert not exporter.pollers[0].run_cycle()
    text = scrape(exporter.port).text
    assert series(text, "soda_incidents_open") == good
    assert series(text, "soda_up") == {(): 0.0}
    assert series(text, "soda_exporter_poll_failures_total")[(("reason", "server_error"),)] == 1
    codes = series(text, "soda_exporter_api_requests_total")
    assert codes[(("code", "500"), ("endpoint", "/impact/incidents"))] == 3  # first try + 2 retries

"""The /metrics fast path: cached live metrics, body parts served uncopied, no Nagle delay on keep-alive."""

from __future__ import annotations

import gzip
import statistics
import time
from collections.abc import Callable

import pytest
import requests
from prometheus_client import CollectorRegistry, Counter, generate_latest

from exporter.app import Exporter
from exporter.exposition import state as state_module
from exporter.exposition.metrics import ExporterMetrics
from exporter.exposition.state import ExporterState, PollOutcome
from exporter.simulator import SimulatorServer
from tests.support.http import scrape

StartExporter = Callable[..., Exporter]


def test_scrape_is_its_parts_joined_and_gzip_stays_one_valid_stream(ready_exporter: Exporter) -> None:
    exporter = ready_exporter
    state = exporter.state
    for openmetrics in (False, True):
        parts = state.scrape_parts(openmetrics=openmetrics, gzipped=False)
        assert state.scrape(openmetrics=openmetrics, gzipped=False) == b"".join(parts)
        # The gzipped live part is rendered on its own, so only the snapshot part must be identical.
        unzipped = gzip.decompress(state.scrape(openmetrics=openmetrics, gzipped=True))
        assert unzipped.endswith(parts[1]) and unzipped.startswith(b"# HELP ")
    assert state.scrape(openmetrics=True, gzipped=False).endswith(b"# EOF\n")
    served = scrape(exporter.port, **{"Accept-Encoding": "identity"})
    assert served.content == state.scrape(openmetrics=False, gzipped=False)
    assert int(served.headers["Content-Length"]) == len(served.content)


def test_live_metrics_are_reused_briefly_and_refreshed_when_a_cycle_ends() -> None:
    metrics = ExporterMetrics()
    state = ExporterState(metrics)
    metrics.init_organization(())
    before = state.scrape(openmetrics=False, gzipped=False)
    metrics.polls.inc()
    assert state.scrape(openmetrics=False, gzipped=False) == before, "rendered again within the max age"
    state.invalidate_live()
    assert b"soda_exporter_polls_total 1.0" in state.scrape(openmetrics=False, gzipped=False)


def test_recording_a_cycle_outcome_refreshes_the_live_metrics(ready_exporter: Exporter) -> None:
    exporter = ready_exporter
    scrape(exporter.port)
    exporter.metrics.polls_skipped.inc(5)
    exporter.state.record_outcome("default", PollOutcome(True, time.time(), 0.1, "success"))
    assert "soda_exporter_polls_skipped_total 5.0" in scrape(exporter.port).text


def test_live_metrics_expire_after_the_max_age(monkeypatch: pytest.MonkeyPatch) -> None:
    metrics = ExporterMetrics()
    state = ExporterState(metrics)
    state.scrape(openmetrics=True, gzipped=True)
    metrics.polls.inc(3)
    monkeypatch.setattr(state_module, "LIVE_MAX_AGE_SECONDS", 0.0)
    assert b"soda_exporter_polls_total 3.0" in gzip.decompress(state.scrape(openmetrics=True, gzipped=True))


def test_kept_alive_small_responses_are_not_held_back_by_nagle(
    simulator: SimulatorServer, start_exporter: StartExporter
) -> None:
    exporter = start_exporter(simulator)
    assert exporter.state.wait_ready(30), "no successful poll"  # the poll no longer competes for the CPU
    durations = []
    with requests.Session() as session:
        url = f"http://127.0.0.1:{exporter.port}/healthz"
        session.get(url, timeout=10)
        for _ in range(21):
            started = time.monotonic()
            assert session.get(url, timeout=10).status_code == 200
            durations.append(time.monotonic() - started)
    # With Nagle on, every response waits for the client's delayed ACK (~40 ms); the median stands
    # well clear of that even on a loaded machine, where a total over all requests did not.
    median = statistics.median(durations)
    assert median < 0.03, f"median kept-alive request took {median * 1000:.0f} ms"


def test_self_metrics_leave_out_created_series_and_other_registries_keep_theirs() -> None:
    metrics = ExporterMetrics()
    metrics.init_organization(())
    metrics.polls.inc()
    metrics.poll_duration.observe(1.0)
    own = generate_latest(metrics.registry)
    assert b"soda_exporter_polls_total 1.0" in own and b"soda_exporter_poll_duration_seconds_count" in own
    assert not [
        line for line in own.decode().splitlines() if line.split("{")[0].split(" ")[0].endswith("_created")
    ]
    # Nothing process-wide: importing and building the self-metrics leaves other registries alone.
    other = CollectorRegistry()
    Counter("unrelated_events", "Events.", registry=other).inc()
    assert b"unrelated_events_created" in generate_latest(other)

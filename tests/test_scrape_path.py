"""The /metrics fast path: cached live metrics, uncopied body parts, no Nagle delay on kept-alive scrapes."""

from __future__ import annotations

import gzip
import socket
import struct
import sys
import time
from collections.abc import Callable

import pytest
import requests

from exporter import metrics as metrics_module
from exporter.app import Exporter
from exporter.metrics import ExporterMetrics
from exporter.server import ExporterRequestHandler, bound_blocking_in_kernel
from exporter.simulator import SimulatorServer
from exporter.state import PollOutcome
from tests.conftest import scrape

StartExporter = Callable[..., Exporter]


def test_scrape_is_its_parts_joined_and_gzip_stays_one_valid_stream(
    simulator: SimulatorServer, start_exporter: StartExporter
) -> None:
    exporter = start_exporter(simulator)
    assert exporter.state.wait_ready(20)
    metrics = exporter.metrics
    for openmetrics in (False, True):
        parts = metrics.scrape_parts(openmetrics=openmetrics, gzipped=False)
        assert metrics.scrape(openmetrics=openmetrics, gzipped=False) == b"".join(parts)
        # The gzipped live part is rendered on its own, so only the snapshot part must be identical.
        unzipped = gzip.decompress(metrics.scrape(openmetrics=openmetrics, gzipped=True))
        assert unzipped.endswith(parts[1]) and unzipped.startswith(b"# HELP ")
    assert metrics.scrape(openmetrics=True, gzipped=False).endswith(b"# EOF\n")
    served = scrape(exporter.port, **{"Accept-Encoding": "identity"})
    assert served.content == metrics.scrape(openmetrics=False, gzipped=False)
    assert int(served.headers["Content-Length"]) == len(served.content)


def test_live_metrics_are_reused_briefly_and_refreshed_when_a_cycle_ends() -> None:
    metrics = ExporterMetrics()
    metrics.init_organization(())
    before = metrics.scrape(openmetrics=False, gzipped=False)
    metrics.polls.inc()
    assert metrics.scrape(openmetrics=False, gzipped=False) == before, "rendered again within the max age"
    metrics.invalidate_live()
    assert b"soda_exporter_polls_total 1.0" in metrics.scrape(openmetrics=False, gzipped=False)


def test_recording_a_cycle_outcome_refreshes_the_live_metrics(
    simulator: SimulatorServer, start_exporter: StartExporter
) -> None:
    exporter = start_exporter(simulator)
    assert exporter.state.wait_ready(20)
    scrape(exporter.port)
    exporter.metrics.polls_skipped.inc(5)
    exporter.state.record_outcome("default", PollOutcome(True, time.time(), 0.1, "success"))
    assert "soda_exporter_polls_skipped_total 5.0" in scrape(exporter.port).text


def test_live_metrics_expire_after_the_max_age(monkeypatch: pytest.MonkeyPatch) -> None:
    metrics = ExporterMetrics()
    metrics.scrape(openmetrics=True, gzipped=True)
    metrics.polls.inc(3)
    monkeypatch.setattr(metrics_module, "LIVE_MAX_AGE_SECONDS", 0.0)
    assert b"soda_exporter_polls_total 3.0" in gzip.decompress(metrics.scrape(openmetrics=True, gzipped=True))


def test_kept_alive_small_responses_are_not_held_back_by_nagle(
    simulator: SimulatorServer, start_exporter: StartExporter
) -> None:
    exporter = start_exporter(simulator)
    with requests.Session() as session:
        url = f"http://127.0.0.1:{exporter.port}/healthz"
        session.get(url, timeout=10)
        started = time.monotonic()
        for _ in range(20):
            assert session.get(url, timeout=10).status_code == 200
        elapsed = time.monotonic() - started
    # With Nagle on, each response waited for the client's delayed ACK (~40 ms): 20 took ~0.8 s.
    assert elapsed < 0.5, f"20 kept-alive requests took {elapsed:.2f}s"


def test_a_silent_client_is_disconnected_after_the_client_timeout(
    simulator: SimulatorServer, start_exporter: StartExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ExporterRequestHandler, "client_timeout", 0.3)
    exporter = start_exporter(simulator)
    with socket.create_connection(("127.0.0.1", exporter.port), timeout=5) as sock:
        started = time.monotonic()
        assert sock.recv(1) == b"", "the server closes the connection"
        assert 0.2 < time.monotonic() - started < 4


def test_the_client_timeout_is_set_in_the_kernel_on_linux() -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("SO_RCVTIMEO is set only on Linux")
    with socket.socket() as sock:
        assert bound_blocking_in_kernel(sock, 2.5)
        assert sock.gettimeout() is None, "no Python-level timeout, so no poll() before each call"
        for option in (socket.SO_RCVTIMEO, socket.SO_SNDTIMEO):
            seconds, micros = struct.unpack("ll", sock.getsockopt(socket.SOL_SOCKET, option, 16))
            assert (seconds, micros) == (2, 500000)


def test_large_multi_part_bodies_arrive_whole(
    simulator: SimulatorServer, start_exporter: StartExporter
) -> None:
    exporter = start_exporter(simulator)
    parts = (*(bytes([65 + n]) * (3 << 20) for n in range(3)), b"", b"end")

    def big(handler: ExporterRequestHandler) -> None:
        handler.send_bytes(200, parts, "application/octet-stream")

    exporter.server.add_route("/big", frozenset({"GET"}), big)
    with requests.Session() as session:
        for _ in range(2):  # twice on one kept-alive connection
            reply = session.get(f"http://127.0.0.1:{exporter.port}/big", timeout=30)
            assert reply.content == b"".join(parts)

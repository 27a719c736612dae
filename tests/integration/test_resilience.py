"""Staying up and staying right: stuck clients, rotated credentials, the cycle bound."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from pathlib import Path

from exporter.app import Exporter
from exporter.simulator import SimulatorServer
from tests.support.builders import KEY_ID, KEY_SECRET
from tests.support.http import scrape, series
from tests.support.metrics import counter
from tests.support.waiting import wait_until

StartExporter = Callable[..., Exporter]


def test_stuck_clients_do_not_block_metrics(ready_exporter: Exporter) -> None:
    exporter = ready_exporter
    stuck = []
    for _ in range(60):  # with the old pool of 8 threads, no scrape answered within 30 s
        sock = socket.create_connection(("127.0.0.1", exporter.port))
        sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")  # headers never finished
        stuck.append(sock)
    try:
        for _ in range(5):
            started = time.monotonic()
            assert scrape(exporter.port).status_code == 200
            assert time.monotonic() - started < 2
    finally:
        for sock in stuck:
            sock.close()


def test_rotated_credential_file_is_picked_up_without_restart(
    simulator: SimulatorServer, start_exporter: StartExporter, tmp_path: Path
) -> None:
    key_file, secret_file = tmp_path / "id", tmp_path / "secret"
    key_file.write_text(KEY_ID)
    secret_file.write_text("stale-secret-value")
    env = {"SODA_REPORTING_URL": simulator.reporting_url}
    exporter = start_exporter(
        simulator,
        "--soda.api-key-id-file",
        str(key_file),
        "--soda.api-key-secret-file",
        str(secret_file),
        env=env,
    )
    wait_until(lambda: bool(exporter.state.outcomes()))
    assert not exporter.state.ready
    # Kubernetes swaps the file behind a symlink; a rename models that.
    fresh = tmp_path / "secret.new"
    fresh.write_text(KEY_SECRET + "\n")
    os.replace(fresh, secret_file)
    assert exporter.pollers[0].run_cycle()
    assert exporter.state.ready
    assert series(scrape(exporter.port).text, "soda_up") == {(): 1.0}


def test_a_slow_api_cannot_make_a_cycle_outlast_poll_timeout(
    start_simulator: Callable[..., SimulatorServer], start_exporter: StartExporter
) -> None:
    sim = start_simulator(page_delay_seconds=3.0)
    exporter = start_exporter(
        sim, "--poll.timeout", "2s", "--soda.request-timeout", "1s", "--soda.retries", "0", run=False
    )
    started = time.monotonic()
    assert not exporter.pollers[0].run_cycle()
    assert time.monotonic() - started < 8
    failures = counter(exporter, "soda_exporter_poll_failures_total", reason="timeout")
    assert failures == 1

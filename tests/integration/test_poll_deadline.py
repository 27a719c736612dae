"""--poll.timeout is a hard bound on a cycle, retries and Retry-After waits included."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from exporter.app import Exporter
from exporter.simulator import SimulatorServer
from exporter.simulator.faults import FaultPlan
from tests.support.builders import KEY_ID, KEY_SECRET
from tests.support.http import free_port
from tests.support.metrics import counter
from tests.support.waiting import wait_until

StartExporter = Callable[..., Exporter]


@pytest.fixture
def silent_soda() -> Iterator[int]:
    """A port that accepts connections and never answers a byte; yields the port."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(listener.getsockname()[1])
    stop.set()
    thread.join(5)
    for conn in held:
        conn.close()
    listener.close()


def env_for(port: int) -> dict[str, str]:
    """Credentials and a Reporting URL on ``port`` of the loopback."""
    return {
        "SODA_REPORTING_URL": f"http://127.0.0.1:{port}/v1",
        "SODA_CLOUD_URL": f"http://127.0.0.1:{port}",
        "SODA_API_KEY_ID": KEY_ID,
        "SODA_API_KEY_SECRET": KEY_SECRET,
    }


def cycle_threads() -> list[threading.Thread]:
    """The cycle's worker threads still alive."""
    return [t for t in threading.enumerate() if t.name == "soda-cycle" or t.name.startswith("soda-page")]


def test_a_silent_soda_cannot_make_a_cycle_outlast_poll_timeout(
    silent_soda: int, start_simulator: Callable[..., SimulatorServer], start_exporter: StartExporter
) -> None:
    sim = start_simulator()  # only to satisfy the fixture's signature; the exporter never talks to it
    args = ("--soda.request-timeout", "1s", "--poll.timeout", "3s", "--datasets.interval", "0")
    exporter = start_exporter(sim, *args, env=env_for(silent_soda), run=False)
    started = time.monotonic()
    assert not exporter.pollers[0].run_cycle()
    elapsed = time.monotonic() - started
    assert elapsed < 4.0, elapsed  # retried while an attempt could still start, never past the deadline
    attempts = counter(
        exporter, "soda_exporter_api_requests_total", endpoint="/last_etl_refresh", code="timeout"
    )
    assert attempts >= 2
    assert counter(exporter, "soda_exporter_poll_failures_total", reason="timeout") == 1
    message = exporter.state.outcomes()["default"].message
    assert message.startswith("timeout: GET /last_etl_refresh: ")
    assert f"127.0.0.1:{silent_soda}" in message
    wait_until(lambda: not cycle_threads(), timeout=1.0)  # the cycle's thread did not outlive it


def test_retry_after_waits_are_cut_at_the_deadline(
    start_simulator: Callable[..., SimulatorServer], start_exporter: StartExporter
) -> None:
    sim = start_simulator()
    rule = {"kind": "rate_limited", "path": "/v1/last_etl_refresh", "retry_after": 20}
    sim.set_faults(FaultPlan.from_dict({"rules": [rule]}))
    exporter = start_exporter(
        sim,
        *("--poll.timeout", "2s", "--soda.request-timeout", "1s", "--soda.max-retry-after", "30s"),
        *("--datasets.interval", "0"),
        run=False,
    )
    started = time.monotonic()
    assert not exporter.pollers[0].run_cycle()
    assert time.monotonic() - started < 2.0  # it does not sleep 20 s, nor even until the deadline
    message = exporter.state.outcomes()["default"].message
    assert message == "timeout: GET /last_etl_refresh: poll timeout reached (last attempt: HTTP 429)"


def test_connection_errors_name_the_host_and_the_os_error(
    start_simulator: Callable[..., SimulatorServer], start_exporter: StartExporter
) -> None:
    port = free_port()  # nothing listens there
    exporter = start_exporter(
        start_simulator(), "--soda.retries", "1", "--datasets.interval", "0", env=env_for(port), run=False
    )
    assert not exporter.pollers[0].run_cycle()
    message = exporter.state.outcomes()["default"].message
    where = f"cannot connect to 127.0.0.1:{port}"
    assert message == f"connection: GET /last_etl_refresh: {where}: [Errno 111] Connection refused"

"""B5: the CPU an exporter burns between polls, alone and holding 1,000 idle connections, from /proc.

Each connection makes one request and then idles, as a scraper's kept-alive connection does between
scrapes; the window is shorter than ``--web.idle-timeout`` (2 min), and the details say how many were
still open at its end.
"""

from __future__ import annotations

import socket
import time

from bench.common import (
    CLOCK_TICKS,
    Figure,
    OrgSpec,
    ScenarioResult,
    cpu_seconds,
    exporter_process,
    simulator,
)
from exporter.web.listen import raise_open_files_limit

SETTLE_SECONDS = 1.0
# The figure: idle CPU must stay under 1 % of a core with this many idle connections open.
IDLE_CONNECTIONS = 1000


def _idle_cpu(pid: int, seconds: float) -> tuple[float, float]:
    """CPU seconds used by ``pid`` over ``seconds`` of wall time, and the wall time measured."""
    before, started = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    return cpu_seconds(pid) - before, time.monotonic() - started


def _open_idle_connections(port: int, count: int) -> list[socket.socket]:
    """``count`` kept-alive connections, each idle after one request (as scrapers between scrapes)."""
    raise_open_files_limit()  # this process holds the client ends
    connections = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n")
        if not sock.recv(4096).startswith(b"HTTP/1.1 200"):
            raise RuntimeError("the exporter did not answer /healthz")
        connections.append(sock)
    return connections


def run(spec: OrgSpec, idle_seconds: float) -> ScenarioResult:
    """After the first poll, the exporter's CPU over ``idle_seconds``: alone, then with idle connections."""
    result = ScenarioResult()
    with simulator(spec) as sim, exporter_process(sim.reporting_url, "--poll.interval=1h") as proc:
        first = proc.next_poll(300)
        time.sleep(SETTLE_SECONDS)
        used, elapsed = _idle_cpu(proc.child.pid, idle_seconds)
        connections = _open_idle_connections(proc.port, IDLE_CONNECTIONS)
        try:
            time.sleep(SETTLE_SECONDS)
            held_used, held_elapsed = _idle_cpu(proc.child.pid, idle_seconds)
            still_open = sum(1 for sock in connections if _open(sock))
        finally:
            for sock in connections:
                sock.close()
    percent = 100.0 * used / elapsed
    held_percent = 100.0 * held_used / held_elapsed
    result.details = {
        "organisation": vars(spec),
        "first_poll_rows": first.get("rows"),
        "idle_seconds": round(elapsed, 2),
        "cpu_seconds": round(used, 3),
        "idle_connections": IDLE_CONNECTIONS,
        "idle_connections_still_open": still_open,
        "cpu_seconds_with_connections": round(held_used, 3),
        "clock_tick_seconds": 1 / CLOCK_TICKS,
    }
    result.add(Figure("B5", "CPU between polls, % of one core", round(percent, 3), "%", "<", 1.0))
    result.add(
        Figure(
            "B5.connections",
            f"CPU between polls with {IDLE_CONNECTIONS} idle connections open, % of one core",
            round(held_percent, 3),
            "%",
            "<",
            1.0,
        )
    )
    return result


def _open(sock: socket.socket) -> bool:
    """True while the server has not closed ``sock``."""
    sock.setblocking(False)
    try:
        return sock.recv(1) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False

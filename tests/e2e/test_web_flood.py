"""The issue's test: 1,000 idle connections, 100 slow request heads and 20 slow readers at once.

While they are all open, scrapes of a real exporter process must still answer within a second, and
the process must stay up.
"""

from __future__ import annotations

import contextlib
import resource
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.support.http import free_port, wait_http_ready
from tests.support.processes import json_lines, spawn

IDLE, SLOW_HEADS, SLOW_READERS = 1000, 100, 20


@pytest.fixture
def enough_descriptors() -> Iterator[None]:
    """This process holds every client socket: lift its own soft limit for the test."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = IDLE + SLOW_HEADS + SLOW_READERS + 200
    if hard != resource.RLIM_INFINITY and hard < wanted:
        pytest.skip(f"the hard open-files limit {hard} is below the {wanted} this test needs")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_scrapes_answer_within_a_second_while_bad_clients_hold_connections(
    tmp_path: Path, enough_descriptors: None
) -> None:
    port = free_port()
    log = tmp_path / "exporter.log"
    # The head bound is lengthened so the slow heads stay open for the whole test.
    args = ["--demo", "--web.listen-address", f"127.0.0.1:{port}", "--web.read-header-timeout", "2m"]
    proc = spawn([*args, "--log.format", "json"], {}, log)
    clients: list[socket.socket] = []
    done = threading.Event()
    try:
        wait_http_ready(port)
        for _ in range(IDLE):
            clients.append(socket.create_connection(("127.0.0.1", port), timeout=10))
        for _ in range(SLOW_HEADS):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: text/pl")  # never finished
            clients.append(sock)
        readers = []
        for _ in range(SLOW_READERS):
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.settimeout(10)
            sock.connect(("127.0.0.1", port))
            sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nAccept-Encoding: identity\r\n\r\n")
            readers.append(sock)
            clients.append(sock)

        reading = threading.Event()

        def read_slowly() -> None:
            while not done.wait(0.25):
                for sock in readers:
                    with contextlib.suppress(OSError):
                        sock.recv(512)
                reading.set()

        trickle = threading.Thread(target=read_slowly, daemon=True)
        trickle.start()
        assert reading.wait(10), "the slow readers never read"
        slowest = 0.0
        for _ in range(10):
            started = time.monotonic()
            reply = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
            slowest = max(slowest, time.monotonic() - started)
            assert reply.status_code == 200 and b"soda_incidents_open{" in reply.content
        assert slowest < 1.0, f"a scrape took {slowest:.2f}s with the bad clients connected"
        assert proc.poll() is None, "the exporter died"
        # The bad clients are still connected: they were served around, not dropped to make room.
        clients[0].setblocking(False)
        with pytest.raises(BlockingIOError):
            clients[0].recv(1)
    finally:
        done.set()
        for sock in clients:
            sock.close()
        proc.terminate()
        proc.wait(10)
    assert not [line for line in json_lines(log) if line.get("level") == "error"]

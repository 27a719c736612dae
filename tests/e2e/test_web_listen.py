"""Listening: the dual-stack default, several addresses, errors naming the address, open-files limits."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap

import pytest
import requests

from exporter.web.listen import ListenError, bind
from exporter.web.messages import text
from exporter.web.server import WebServer
from tests.support.http import free_port, wait_http_ready
from tests.support.waiting import wait_until


def has_ipv6_loopback() -> bool:
    """True when ::1 can be bound here."""
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


needs_ipv6 = pytest.mark.skipif(not has_ipv6_loopback(), reason="this host has no IPv6 loopback")


def serving(addresses: list[tuple[str, int]]) -> WebServer:
    """A started server answering /healthz on ``addresses``."""
    server = WebServer(addresses)
    server.add_route("/healthz", frozenset({"GET"}), lambda request: text(200, "ok\n"))
    server.start()
    return server


@needs_ipv6
def test_the_default_address_serves_ipv6_and_ipv4() -> None:
    port = free_port()
    server = serving([("", port)])
    try:
        assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).text == "ok\n"
        assert requests.get(f"http://[::1]:{port}/healthz", timeout=5).text == "ok\n"
        assert server.describe() == [f"[::]:{port}"]
    finally:
        server.stop()


@needs_ipv6
def test_two_listen_addresses_ipv6_loopback_and_ipv4_loopback() -> None:
    server = serving([("::1", 0), ("127.0.0.1", 0)])
    try:
        (_, six), (_, four) = server.addresses
        assert requests.get(f"http://[::1]:{six}/healthz", timeout=5).ok
        assert requests.get(f"http://127.0.0.1:{four}/healthz", timeout=5).ok
        with pytest.raises(requests.ConnectionError):  # [::1] is IPv6 only
            requests.get(f"http://127.0.0.1:{six}/healthz", timeout=5)
    finally:
        server.stop()


def test_a_busy_address_is_named_in_the_error_and_nothing_stays_bound() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        free = free_port()
        with pytest.raises(
            ListenError, match=rf"cannot listen on 127\.0\.0\.1:{port}: Address already in use"
        ):
            WebServer([("127.0.0.1", free), ("127.0.0.1", port)])
        bind("127.0.0.1", free).close()  # the first address was released again


def test_the_cli_names_the_busy_address(tmp_path: object) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "exporter.cli", "--demo", "--web.listen-address", f"127.0.0.1:{port}"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 2
    assert f"--web.listen-address: cannot listen on 127.0.0.1:{port}: Address already in use" in done.stderr


def test_the_soft_open_files_limit_is_raised_to_the_hard_limit() -> None:
    script = textwrap.dedent(
        """
        import json, resource
        from exporter.web.listen import raise_open_files_limit
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(256, hard), hard))
        print(json.dumps({"hard": hard, "now": raise_open_files_limit()}))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    result = json.loads(done.stdout)
    assert result["now"] == [result["hard"], result["hard"]]


@pytest.mark.slow
def test_running_out_of_descriptors_is_logged_and_counted_and_serving_resumes() -> None:
    # The server's process gets a tiny descriptor limit; the clients live here, in the test.
    script = textwrap.dedent(
        """
        import json, resource, sys, time
        from prometheus_client import CollectorRegistry
        from exporter.logs import configure_logging
        from exporter.web.messages import text
        from exporter.web.server import WebServer
        configure_logging("info", "json")
        registry = CollectorRegistry()
        server = WebServer([("127.0.0.1", 0)], registry=registry)
        server.add_route("/healthz", frozenset({"GET"}), lambda request: text(200, "ok\\n"))
        server.start()
        import os
        used = len(os.listdir("/proc/self/fd"))
        resource.setrlimit(resource.RLIMIT_NOFILE, (used + 8, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
        print(json.dumps({"port": server.port}), flush=True)
        for _ in sys.stdin:  # one answer per line asked
            value = registry.get_sample_value(
                "soda_exporter_http_accept_failures_total", {"reason": "process_open_files_limit"}
            )
            print(json.dumps({"failures": value}), flush=True)
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    clients: list[socket.socket] = []
    try:
        assert proc.stdout is not None and proc.stdin is not None
        port = json.loads(proc.stdout.readline())["port"]
        for _ in range(30):  # the kernel completes each handshake; the server cannot accept them all
            clients.append(socket.create_connection(("127.0.0.1", port), timeout=5))

        def failures() -> float:
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write("\n")
            proc.stdin.flush()
            return float(json.loads(proc.stdout.readline())["failures"] or 0)

        wait_until(lambda: failures() >= 1, timeout=20)  # the server has hit the limit
        for client in clients:
            client.close()
        clients.clear()
        # Accepting resumes (asyncio retries after a second) once descriptors are free again.
        wait_http_ready(port, timeout=20, path="/healthz")
        assert failures() >= 1
    finally:
        for client in clients:
            client.close()
        proc.kill()
        _, stderr = proc.communicate(timeout=10)
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    refused = [line for line in lines if line.get("event") == "cannot accept connections"]
    assert refused and refused[0]["reason"] == "process_open_files_limit"
    assert len(refused) <= 2, "rate-limited to one line per 10 s"

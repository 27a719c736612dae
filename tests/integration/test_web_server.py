"""The HTTP server on its own: routing, limits, time bounds, pipelining, over real sockets on loopback."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable, Iterator

import pytest
import requests

from exporter.web.limits import Limits
from exporter.web.messages import Request, Response, text
from exporter.web.server import WebServer
from tests.support.factories import stopping

GET = frozenset({"GET", "HEAD"})
StartServer = Callable[..., WebServer]


@pytest.fixture
def start_server() -> Iterator[StartServer]:
    """Factory: a WebServer on 127.0.0.1 with /hello, /echo (POST) and /big; stopped at teardown."""
    with stopping(WebServer.stop) as keep:

        def start(limits: Limits | None = None, big: bytes = b"", **kwargs: object) -> WebServer:
            server = keep(WebServer([("127.0.0.1", 0)], limits=limits, **kwargs))  # type: ignore[arg-type]
            server.add_route("/hello", GET, lambda request: text(200, "hello\n"))
            server.add_route("/echo", frozenset({"POST"}), lambda request: Response(200, request.body))
            server.add_route("/big", GET, lambda request: Response(200, (b"<", big, b">")))
            server.start()
            return server

        yield start


def raw(port: int, data: bytes, *, wait: float = 5.0) -> bytes:
    """Send ``data`` on a fresh connection and read until the server closes it (or ``wait`` passes)."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        sock.sendall(data)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except TimeoutError:
            pass
        return b"".join(chunks)


def closed_within(sock: socket.socket, seconds: float) -> float:
    """Seconds until the server closes ``sock`` (fails after ``seconds``)."""
    sock.settimeout(seconds)
    started = time.monotonic()
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:  # an aborted connection is closed too
        pass
    return time.monotonic() - started


def test_routes_methods_and_sizes_answer_as_before(start_server: StartServer) -> None:
    server = start_server()
    url = f"http://127.0.0.1:{server.port}"
    assert requests.get(f"{url}/hello", timeout=5).text == "hello\n"
    assert requests.get(f"{url}/hello?x=1", timeout=5).status_code == 200
    assert requests.get(f"{url}/nope", timeout=5).status_code == 404
    wrong = requests.post(f"{url}/hello", data=b"abc", timeout=5)
    assert wrong.status_code == 405 and wrong.headers["Allow"] == "GET, HEAD"
    assert requests.post(f"{url}/echo", data=b"x" * 1000, timeout=5).content == b"x" * 1000
    assert requests.post(f"{url}/echo", data=b"x" * ((1 << 20) + 1), timeout=5).status_code == 413

    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield b"y" * 65536

    assert requests.post(f"{url}/echo", data=chunks(), timeout=5).status_code == 413
    head = requests.head(f"{url}/hello", timeout=5)
    assert head.status_code == 200 and head.content == b"" and head.headers["Content-Length"] == "6"
    assert raw(server.port, b"NONSENSE\r\n\r\n").startswith(b"HTTP/1.1 400 ")


def test_a_handler_error_is_a_500_and_the_server_goes_on(start_server: StartServer) -> None:
    server = start_server()

    def broken(request: Request) -> Response:
        raise RuntimeError("bug")

    server.add_route("/broken", GET, broken)
    assert requests.get(f"http://127.0.0.1:{server.port}/broken", timeout=5).status_code == 500
    assert requests.get(f"http://127.0.0.1:{server.port}/hello", timeout=5).status_code == 200


def test_keep_alive_and_pipelined_requests_are_answered_in_order(start_server: StartServer) -> None:
    server = start_server()
    pipelined = b"".join(
        f"GET /{path} HTTP/1.1\r\nHost: x\r\n\r\n".encode() for path in ("hello", "nope", "hello")
    )
    reply = raw(server.port, pipelined + b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert re.findall(rb"HTTP/1.1 (\d+)", reply) == [b"200", b"404", b"200", b"200"]


def test_a_client_that_asks_to_close_gets_connection_close_and_a_closed_connection(
    start_server: StartServer,
) -> None:
    server = start_server()
    for request in (
        b"GET /hello HTTP/1.0\r\n\r\nGET /hello HTTP/1.0\r\n\r\n",
        b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n",
    ):
        reply = raw(server.port, request, wait=10)
        assert reply.count(b"HTTP/1.1 200 OK\r\n") == 1, reply  # the second request is not read
        head = reply.split(b"\r\n\r\n")[0].lower().split(b"\r\n")
        assert b"connection: close" in head and b"content-length: 6" in head and b"date: " in reply.lower()


def test_a_request_seen_before_is_answered_alike_and_a_part_of_one_is_not_taken_for_it(
    start_server: StartServer,
) -> None:
    server = start_server()
    request = b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        for _ in range(3):  # the second and third are the first's bytes again
            sock.sendall(request)
            assert sock.recv(65536).endswith(b"\r\n\r\nhello\n")
        sock.sendall(request[:20])  # a head in two segments: the first alone is no request
        time.sleep(0.2)
        sock.sendall(request[20:])
        assert sock.recv(65536).endswith(b"\r\n\r\nhello\n")
    with socket.create_connection(("127.0.0.1", server.port), timeout=1) as sock:
        sock.sendall(request[:20])
        with pytest.raises(TimeoutError):
            sock.recv(65536)
    reply = raw(server.port, b"POST /hello HTTP/1.1\r\nHost: x\r\n\r\n" * 2 + b"GET /nope HTTP/1.0\r\n\r\n")
    assert re.findall(rb"HTTP/1.1 (\d+)", reply) == [b"405", b"405", b"404"]


def test_a_malformed_header_from_a_handler_is_never_sent(start_server: StartServer) -> None:
    server = start_server()
    server.add_route("/bad", GET, lambda request: text(200, "x\n", (("X-Bad", "a\r\nSet-Cookie: b"),)))
    assert b"Set-Cookie" not in raw(server.port, b"GET /bad HTTP/1.1\r\nHost: x\r\n\r\n")
    assert requests.get(f"http://127.0.0.1:{server.port}/hello", timeout=5).text == "hello\n"


def test_a_long_pipeline_in_one_packet_does_not_nest_calls(start_server: StartServer) -> None:
    server = start_server()
    many = b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n" * 3000
    reply = raw(server.port, many + b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", wait=30)
    assert reply.count(b"HTTP/1.1 200 OK") == 3001


def test_large_multi_part_bodies_arrive_whole(start_server: StartServer) -> None:
    big = b"".join(bytes([65 + n]) * (3 << 20) for n in range(3))
    server = start_server(big=big)
    with requests.Session() as session:
        for _ in range(2):  # twice on one kept-alive connection
            reply = session.get(f"http://127.0.0.1:{server.port}/big", timeout=30)
            assert reply.content == b"<" + big + b">"


def test_an_idle_kept_alive_connection_is_closed_after_the_idle_timeout(start_server: StartServer) -> None:
    server = start_server(Limits(idle_timeout=0.5, read_header_timeout=30))
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 OK")
        assert 0.3 < closed_within(sock, 10) < 8


def test_a_slow_request_head_is_cut_after_the_header_timeout(start_server: StartServer) -> None:
    server = start_server(Limits(read_header_timeout=0.5, idle_timeout=60))
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\n")  # the head never ends
        assert 0.3 < closed_within(sock, 10) < 8
    with socket.create_connection(("127.0.0.1", server.port)) as silent:  # not a byte sent
        assert 0.3 < closed_within(silent, 10) < 8


def test_a_slow_request_body_is_cut_after_the_read_timeout(start_server: StartServer) -> None:
    server = start_server(Limits(read_header_timeout=5, read_timeout=0.8))
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly a part")
        assert 0.5 < closed_within(sock, 10) < 8


@pytest.mark.slow
def test_a_client_that_stops_reading_its_response_is_dropped_after_the_write_timeout(
    start_server: StartServer,
) -> None:
    server = start_server(Limits(write_timeout=0.5), big=b"z" * (64 << 20))
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", server.port))
        sock.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(3)  # the behaviour under test: reading nothing for a while, so the server must give up
        sock.settimeout(10)
        received = 0
        with pytest.raises(ConnectionResetError):
            while chunk := sock.recv(1 << 20):
                received += len(chunk)
            raise ConnectionResetError("closed")  # a clean close counts as being dropped too
        assert received < 64 << 20, "the whole body was sent to a client that did not read"
    assert requests.get(f"http://127.0.0.1:{server.port}/hello", timeout=5).status_code == 200


def test_stop_returns_quickly_with_clients_connected(start_server: StartServer) -> None:
    server = start_server()
    clients = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(50)]
    clients[0].sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\n")
    try:
        started = time.monotonic()
        server.stop()
        assert time.monotonic() - started < 1.0
        assert closed_within(clients[1], 5) < 5
    finally:
        for client in clients:
            client.close()

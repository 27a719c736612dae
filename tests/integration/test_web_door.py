"""The FrontDoor hook: TLS per connection, the peer check, authorisation on every path, extra headers."""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import structlog
import trustme

from exporter.app import Exporter
from exporter.config.arguments import parse_args
from exporter.simulator import SimulatorServer
from exporter.web.limits import Limits
from exporter.web.messages import text
from exporter.web.server import WebServer
from tests.support.builders import sim_env
from tests.support.factories import stopping
from tests.support.tls import bcrypt_hash, handshake_in_memory, write_web_config

GOOD = "Basic dXNlcjpwYXNz"
CHALLENGE = 'Basic realm="soda"'


class FakeDoor:
    """A door that counts its calls: TLS when given a context, one good Authorization value."""

    def __init__(self, context: ssl.SSLContext | None = None, *, allow_peer: bool = True) -> None:
        self.context = context
        self.allow_peer = allow_peer
        self.contexts_asked = 0
        self.peers: list[dict[str, Any] | None] = []
        self.authorizations: list[str | None] = []

    def tls_context(self) -> ssl.SSLContext | None:
        self.contexts_asked += 1
        return self.context

    def peer_allowed(self, peer_certificate: dict[str, Any] | None) -> bool:
        self.peers.append(peer_certificate)
        return self.allow_peer

    def authorized(self, authorization: str | None) -> bool:
        self.authorizations.append(authorization)
        return authorization == GOOD

    def challenge(self) -> str | None:
        return CHALLENGE

    def headers(self) -> tuple[tuple[str, str], ...]:
        return (("X-Content-Type-Options", "nosniff"), ("Strict-Transport-Security", "max-age=60"))


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    """A throw-away certificate authority."""
    return trustme.CA()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> str:
    """The CA certificate as a PEM file, for requests' ``verify``."""
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def server_context(ca: trustme.CA, *, client_certificates: bool = False) -> ssl.SSLContext:
    """A server-side context with a certificate for 127.0.0.1, optionally requiring client certificates."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    if client_certificates:
        context.verify_mode = ssl.CERT_REQUIRED
        ca.configure_trust(context)
    return context


@pytest.fixture
def serve() -> Iterator[Any]:
    """Factory: a WebServer with /hello behind ``door``; stopped at teardown."""
    with stopping(WebServer.stop) as keep:

        def start(door: FakeDoor, limits: Limits | None = None) -> WebServer:
            server = keep(WebServer([("127.0.0.1", 0)], door=door, limits=limits))
            server.add_route("/hello", frozenset({"GET"}), lambda request: text(200, "hello\n"))
            server.start()
            return server

        yield start


def test_tls_from_the_door_serves_https_and_asks_for_a_context_per_connection(
    serve: Any, ca: trustme.CA, ca_file: str
) -> None:
    door = FakeDoor(server_context(ca))
    server = serve(door)
    url = f"https://127.0.0.1:{server.port}/hello"
    for _ in range(2):
        reply = requests.get(url, headers={"Authorization": GOOD}, verify=ca_file, timeout=10)
        assert reply.status_code == 200 and reply.text == "hello\n"
    assert door.contexts_asked == 2
    assert door.peers == [None, None], "no client certificate was asked for"
    with pytest.raises(requests.exceptions.ConnectionError):  # plain HTTP on a TLS port
        requests.get(f"http://127.0.0.1:{server.port}/hello", timeout=5)
    assert requests.get(url, headers={"Authorization": GOOD}, verify=ca_file, timeout=10).ok


def test_the_peer_check_sees_the_client_certificate_and_can_refuse_it(
    serve: Any, ca: trustme.CA, ca_file: str, tmp_path: Path
) -> None:
    client = ca.issue_cert("scraper@example.com")
    client_pem = tmp_path / "client.pem"
    client.private_key_and_cert_chain_pem.write_to_path(str(client_pem))
    allowing = FakeDoor(server_context(ca, client_certificates=True))
    url = f"https://127.0.0.1:{serve(allowing).port}/hello"
    reply = requests.get(
        url, headers={"Authorization": GOOD}, verify=ca_file, cert=str(client_pem), timeout=10
    )
    assert reply.status_code == 200
    peer = allowing.peers[0]
    assert peer is not None and ("email", "scraper@example.com") in peer["subjectAltName"]
    with pytest.raises(requests.exceptions.ConnectionError):  # no client certificate: the handshake fails
        requests.get(url, headers={"Authorization": GOOD}, verify=ca_file, timeout=10)
    refusing = FakeDoor(server_context(ca, client_certificates=True), allow_peer=False)
    refused_url = f"https://127.0.0.1:{serve(refusing).port}/hello"
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(
            refused_url, headers={"Authorization": GOOD}, verify=ca_file, cert=str(client_pem), timeout=10
        )
    assert len(refusing.peers) == 1 and refusing.authorizations == [], "refused before any request"


def test_a_stalled_tls_handshake_is_cut_after_the_header_timeout(serve: Any, ca: trustme.CA) -> None:
    server = serve(FakeDoor(server_context(ca)), Limits(read_header_timeout=0.5))
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.settimeout(10)
        started = time.monotonic()
        assert sock.recv(100) == b""
        assert 0.3 < time.monotonic() - started < 8


def tls_exchange(port: int, ca: trustme.CA, request: bytes, *, with_last_flight: bool) -> tuple[bytes, float]:
    """Send ``request`` over TLS, with the client's Finished or after it; (reply, seconds until EOF)."""
    context = ssl.create_default_context()
    ca.configure_trust(context)
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        tls, incoming, outgoing = handshake_in_memory(sock, context)
        if not with_last_flight:
            sock.sendall(outgoing.read())
            time.sleep(0.2)
        tls.write(request)
        sock.sendall(outgoing.read())
        started = time.monotonic()
        while chunk := sock.recv(65536):  # a TimeoutError fails the test: the server never closed
            incoming.write(chunk)
        seconds = time.monotonic() - started
    reply = b""
    with contextlib.suppress(ssl.SSLZeroReturnError):  # the server's close_notify
        while chunk := tls.read(65536):
            reply += chunk
    return reply, seconds


@pytest.mark.parametrize("with_last_flight", [True, False])
def test_connection_close_over_tls_is_answered_and_closed_at_once(
    serve: Any, ca: trustme.CA, with_last_flight: bool
) -> None:
    server = serve(FakeDoor(server_context(ca)))
    request = (
        b"GET /hello HTTP/1.1\r\nHost: x\r\nAuthorization: "
        + GOOD.encode()
        + b"\r\nConnection: close\r\n\r\n"
    )
    reply, seconds = tls_exchange(server.port, ca, request, with_last_flight=with_last_flight)
    assert reply.startswith(b"HTTP/1.1 200 OK\r\n") and reply.endswith(b"\r\n\r\nhello\n")
    assert b"\r\nConnection: close\r\n" in reply
    assert seconds < 10, "asyncio alone waits 30 s for the client's close_notify"


def test_every_path_the_webhook_included_needs_authorisation_and_gets_the_door_headers(
    simulator: SimulatorServer,
) -> None:
    door = FakeDoor()
    env = sim_env(simulator, SODA_EXPORTER_WEBHOOK_TOKEN="hook-token-0123456789")
    args = ["--web.listen-address", "127.0.0.1:0", "--poll.interval", "1h", "--webhook.enable"]
    exporter = Exporter(parse_args(args, env), door=door)
    exporter.start(poll=False)
    try:
        base = f"http://127.0.0.1:{exporter.port}"
        for method, path in (
            ("GET", "/metrics"),
            ("GET", "/"),
            ("GET", "/healthz"),
            ("GET", "/readyz"),
            ("GET", "/no-such-page"),
            ("POST", "/alertmanager/webhook"),
        ):
            denied = requests.request(method, base + path, data=b"{}", timeout=5)
            assert denied.status_code == 401, path
            assert denied.headers["WWW-Authenticate"] == CHALLENGE
            assert denied.headers["X-Content-Type-Options"] == "nosniff"
            allowed = requests.request(method, base + path, headers={"Authorization": GOOD}, timeout=5)
            assert allowed.headers["Strict-Transport-Security"] == "max-age=60"
            if path == "/alertmanager/webhook":  # past the door, the webhook still wants its bearer token
                assert allowed.status_code == 401 and allowed.headers["WWW-Authenticate"] == "Bearer"
            else:
                assert allowed.status_code != 401, path
        assert requests.get(base + "/healthz", headers={"Authorization": GOOD}, timeout=5).text == "ok\n"
    finally:
        exporter.stop()


def test_the_same_request_bytes_again_ask_the_door_again(serve: Any) -> None:
    verdicts: list[bool] = []
    door = FakeDoor()
    door.authorized = lambda authorization: verdicts.pop(0)  # type: ignore[method-assign]
    server = serve(door)
    request = b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        for verdict, status in ((True, b"200"), (False, b"401"), (True, b"200")):
            verdicts.append(verdict)  # e.g. the password file changed between two identical scrapes
            sock.sendall(request)
            assert sock.recv(65536).startswith(b"HTTP/1.1 " + status + b" ")
    assert verdicts == [], "every request was put to the door"


class BrokenDoor(FakeDoor):
    """A door whose checks raise, as a bug in the security layer would."""

    def __init__(self, *, broken_tls: bool) -> None:
        super().__init__()
        self.broken_tls = broken_tls

    def tls_context(self) -> ssl.SSLContext | None:
        if self.broken_tls:
            raise RuntimeError("no certificate")
        return None

    def authorized(self, authorization: str | None) -> bool:
        raise RuntimeError("bug")


def test_a_failing_door_refuses_instead_of_serving_past_it(serve: Any) -> None:
    no_tls = serve(BrokenDoor(broken_tls=True))
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"http://127.0.0.1:{no_tls.port}/hello", timeout=5)
    no_auth = serve(BrokenDoor(broken_tls=False))
    for _ in range(2):  # and the server goes on
        reply = requests.get(
            f"http://127.0.0.1:{no_auth.port}/hello", headers={"Authorization": GOOD}, timeout=5
        )
        assert reply.status_code == 500 and reply.text != "hello\n"


def test_a_warning_when_no_user_can_carry_the_webhook_token(
    simulator: Any, start_exporter: Any, tmp_path: Path
) -> None:
    from tests.support.builders import sim_env

    token = "a-long-enough-webhook-token"
    for hashed_password, warned in ((token, False), ("something-else", True)):
        path = write_web_config(
            tmp_path / "web.yml", {"basic_auth_users": {"alertmanager": bcrypt_hash(hashed_password)}}
        )
        env = sim_env(simulator, SODA_EXPORTER_WEBHOOK_TOKEN=token)
        with structlog.testing.capture_logs() as logs:
            start_exporter(simulator, "--webhook.enable", "--web.config.file", str(path), env=env, run=False)
        warnings = [e for e in logs if e["log_level"] == "warning" and "webhook token" in e["event"]]
        assert bool(warnings) == warned
        assert token not in json.dumps(logs, default=str)

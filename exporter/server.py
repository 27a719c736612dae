"""The exporter's HTTP server: /metrics, landing page, health and readiness, on a bounded thread pool."""

from __future__ import annotations

import html
import socket
import struct
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST as CONTENT_TYPE_OPENMETRICS

from exporter import __version__
from exporter.logs import current_secrets, redact
from exporter.state import ExporterState

MAX_BODY_BYTES = 1 << 20
CLIENT_TIMEOUT_SECONDS = 10.0

RouteHandler = Callable[["ExporterRequestHandler"], None]


@dataclass(frozen=True)
class Route:
    """One served path: the methods it takes and the function answering it."""

    methods: frozenset[str]
    handler: RouteHandler


class BoundedThreadingHTTPServer(HTTPServer):
    """An HTTPServer whose requests run on a fixed pool, so load cannot spawn unbounded threads."""

    allow_reuse_address = True
    request_queue_size = 64

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], max_workers: int
    ) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="http")
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Hand the connection to the pool instead of handling it in the accept loop."""
        self._pool.submit(self._handle, request, client_address)

    def _handle(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Drop broken client connections quietly; they are the client's problem, not ours."""

    def server_close(self) -> None:
        """Close the socket and stop the pool without waiting for stuck clients."""
        super().server_close()
        self._pool.shutdown(wait=False, cancel_futures=True)


def bound_blocking_in_kernel(sock: socket.socket, seconds: float) -> bool:
    """Make blocked reads and writes of ``sock`` fail after ``seconds``; False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False  # struct timeval's layout differs elsewhere; callers use a socket timeout
    whole = int(seconds)
    value = struct.pack("ll", whole, int((seconds - whole) * 1_000_000))
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, value)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, value)
    except OSError:
        return False
    return True


class ExporterRequestHandler(BaseHTTPRequestHandler):
    """Routes requests; the server object carries the routes."""

    server: ExporterHTTPServer
    protocol_version = "HTTP/1.1"
    server_version = f"soda-incidents-exporter/{__version__}"
    # A stuck client frees its worker after client_timeout seconds. Where it can, the bound is set in
    # the kernel (SO_RCVTIMEO/SO_SNDTIMEO): a Python socket timeout puts a poll() and one more GIL
    # hand-off before every read and write, which cost /metrics about a fifth of its throughput.
    timeout = None
    client_timeout = CLIENT_TIMEOUT_SECONDS
    # Headers and body go out in separate writes; with Nagle on, a kept-alive client's delayed ACK
    # held every response back by about 40 ms.
    disable_nagle_algorithm = True

    def setup(self) -> None:
        """Bound how long a read or a write may block, for a client that stopped talking."""
        super().setup()
        if not bound_blocking_in_kernel(self.connection, self.client_timeout):
            self.connection.settimeout(self.client_timeout)

    def log_message(self, format: str, *args: Any) -> None:
        """Access logs stay off: scrapes every few seconds would drown the poll lines."""

    def _dispatch(self) -> None:
        length = self.headers.get("Content-Length")
        if length is not None:
            try:
                size = int(length)
            except ValueError:
                self.send_text(HTTPStatus.BAD_REQUEST, "bad Content-Length\n")
                return
            if size > MAX_BODY_BYTES or size < 0:
                self.close_connection = True
                self.send_text(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "request body too large\n")
                return
        path = self.path.split("?", 1)[0]
        route = self.server.routes.get(path)
        if route is None or self.command not in route.methods:
            # The body stays unread, so this connection cannot carry another request.
            self.close_connection = length is not None
        if route is None:
            self.send_text(HTTPStatus.NOT_FOUND, "not found\n")
            return
        if self.command not in route.methods:
            allow = ", ".join(sorted(route.methods))
            self.send_text(HTTPStatus.METHOD_NOT_ALLOWED, "method not allowed\n", {"Allow": allow})
            return
        route.handler(self)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _dispatch

    def read_body(self) -> bytes:
        """Read the request body (already checked against the size limit)."""
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def send_bytes(
        self,
        status: int,
        body: bytes | tuple[bytes, ...],
        content_type: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Send a complete response (no body for HEAD); a tuple body is sent part by part, uncopied."""
        parts = body if isinstance(body, tuple) else (body,)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(sum(len(part) for part in parts)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self._write_parts(parts)

    def _write_parts(self, parts: tuple[bytes, ...]) -> None:
        """Write the body parts in one system call where the socket takes them all (no copying)."""
        if len(parts) == 1 or not hasattr(self.connection, "sendmsg"):
            for part in parts:
                self.wfile.write(part)
            return
        pending = [memoryview(part) for part in parts if part]
        while pending:
            sent = self.connection.sendmsg(pending)
            while pending and sent >= len(pending[0]):
                sent -= len(pending.pop(0))
            if sent:
                pending[0] = pending[0][sent:]

    def send_text(self, status: int, text: str, headers: dict[str, str] | None = None) -> None:
        """Send a plain-text response."""
        self.send_bytes(status, text.encode(), "text/plain; charset=utf-8", headers)


class ExporterHTTPServer(BoundedThreadingHTTPServer):
    """The bounded server plus the routing table and exporter state the handler needs."""

    def __init__(self, address: tuple[str, int], state: ExporterState, telemetry_path: str, max_workers: int):
        self.state = state
        self.telemetry_path = telemetry_path
        get = frozenset({"GET", "HEAD"})
        self.routes: dict[str, Route] = {
            telemetry_path: Route(get, serve_metrics),
            "/": Route(get, serve_landing),
            "/healthz": Route(get, lambda h: h.send_text(HTTPStatus.OK, "ok\n")),
            "/readyz": Route(get, serve_ready),
        }
        super().__init__(address, ExporterRequestHandler, max_workers)

    def add_route(self, path: str, methods: frozenset[str], handler: RouteHandler) -> None:
        """Serve another path (e.g. the Alertmanager webhook) on the same port."""
        self.routes[path] = Route(methods, handler)


def wants_openmetrics(accept: str) -> bool:
    """True when the Accept header asks for OpenMetrics, as prometheus_client decides it."""
    return any(part.split(";")[0].strip() == "application/openmetrics-text" for part in accept.split(","))


def wants_gzip(accept_encoding: str) -> bool:
    """True when the client accepts a gzip body."""
    return "gzip" in accept_encoding.lower()


def serve_metrics(handler: ExporterRequestHandler) -> None:
    """Live exporter metrics (at most a second old), followed by the pre-rendered snapshot bytes."""
    openmetrics = wants_openmetrics(handler.headers.get("Accept", ""))
    gzipped = wants_gzip(handler.headers.get("Accept-Encoding", ""))
    body = handler.server.state.metrics.scrape_parts(openmetrics=openmetrics, gzipped=gzipped)
    content_type = CONTENT_TYPE_OPENMETRICS if openmetrics else CONTENT_TYPE_PLAIN_0_0_4
    handler.send_bytes(HTTPStatus.OK, body, content_type, {"Content-Encoding": "gzip"} if gzipped else None)


def serve_ready(handler: ExporterRequestHandler) -> None:
    """200 once a poll cycle has succeeded, 503 before."""
    if handler.server.state.ready:
        handler.send_text(HTTPStatus.OK, "ready\n")
    else:
        handler.send_text(HTTPStatus.SERVICE_UNAVAILABLE, "not ready: no successful poll yet\n")


def serve_landing(handler: ExporterRequestHandler) -> None:
    """A small HTML page: links, version, and each organisation's last poll outcome."""
    rows = []
    secrets = current_secrets()  # messages carry no secrets by construction; this makes sure
    for org, outcome in sorted(handler.server.state.outcomes().items()):
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(outcome.finished_at))
        verdict = "success" if outcome.success else "failure"
        detail = html.escape(redact(outcome.message, secrets))
        rows.append(
            f"<tr><td>{html.escape(org)}</td><td>{verdict}</td><td>{when}</td>"
            f"<td>{outcome.duration_seconds:.2f}s</td><td>{detail}</td></tr>"
        )
    table = "".join(rows) or "<tr><td colspan=5>no poll has finished yet</td></tr>"
    path = html.escape(handler.server.telemetry_path)
    page = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Soda Incidents Exporter</title></head>"
        f"<body><h1>Soda Incidents Exporter</h1><p>Version {html.escape(__version__)}</p>"
        f"<ul><li><a href='{path}'>Metrics</a></li><li><a href='/healthz'>Health</a></li>"
        "<li><a href='/readyz'>Readiness</a></li></ul><h2>Last poll</h2><table border=1>"
        "<tr><th>organization</th><th>outcome</th><th>finished</th><th>duration</th><th>detail</th></tr>"
        f"{table}</table></body></html>"
    )
    handler.send_bytes(HTTPStatus.OK, page.encode(), "text/html; charset=utf-8")

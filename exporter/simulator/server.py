"""The simulator's HTTP server: one real socket serving both Soda Cloud APIs, recording every exchange."""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import threading
import time
import traceback
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from exporter.simulator.auth import DEMO_KEY_ID, DEMO_KEY_SECRET, KeyStore, SlidingWindowLimiter
from exporter.simulator.cloud_api import PREFIX as CLOUD_PREFIX
from exporter.simulator.cloud_api import CloudApi, UpdateRecord
from exporter.simulator.fault_effects import Wire, damage, delay, request_info, reshape_page, terminal_reply
from exporter.simulator.faults import DATA_KINDS, PRE_KINDS, TERMINAL_KINDS, WIRE_KINDS, FaultPlan
from exporter.simulator.organization import Organization
from exporter.simulator.replies import Reply, Request, cloud_error
from exporter.simulator.reporting_api import PAGINATED_PATHS, ReportingApi
from exporter.simulator.reporting_api import PREFIX as REPORTING_PREFIX


@dataclass(frozen=True)
class RequestRecord:
    """One request the simulator answered."""

    method: str
    path: str
    status: int
    body: Any  # the decoded JSON body, None when absent or not JSON
    headers: dict[str, str]  # lower-cased names
    at: float  # wall-clock time the answer was sent


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], simulator: SimulatorServer) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.simulator = simulator
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        connection, address = super().get_request()
        with self._connections_lock:
            self._connections.add(connection)
        return connection, address

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> None:
        """Cut every open connection, so kept-alive clients see the server gone once it stops."""
        with self._connections_lock:
            connections = list(self._connections)
            self._connections.clear()
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as clients with a session expect
    timeout = 120  # drop idle keep-alive connections eventually
    # Headers and body are separate writes: with Nagle on, every small reply (ETL time, 202, errors)
    # waited ~40 ms for the client's delayed ACK, a latency the real service does not add.
    disable_nagle_algorithm = True
    server: _HTTPServer

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: the request log is the record."""

    def _dispatch(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.send_error(400, "Bad Content-Length")
            return
        body = self.rfile.read(length) if length > 0 else b""
        try:
            decoded = json.loads(body) if body.strip() else None
        except ValueError:
            decoded = None
        request = Request(
            method=self.command,
            path=urlsplit(self.path).path,
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
            json=decoded,
        )
        self.server.simulator._serve(request, self)

    def send_wire(self, wire: Wire) -> None:
        """Write the reply, or only its start followed by a reset when the wire says to cut."""
        self.send_response(wire.status)
        self.send_header("Content-Type", wire.content_type)
        self.send_header("Content-Length", str(len(wire.body)))
        for name, value in wire.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command == "HEAD":
            return
        if wire.cut_at is None:
            self.wfile.write(wire.body)
            return
        self.wfile.write(wire.body[: wire.cut_at])
        self.wfile.flush()
        time.sleep(0.05)  # let the partial body reach the client before the connection dies
        if wire.rst:
            # Linger 0 turns close() into a TCP RST instead of an orderly FIN.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        else:
            self.connection.shutdown(socket.SHUT_RDWR)
        self.connection.close()
        self.close_connection = True


class SimulatorServer:
    """A running Soda Cloud simulator for one organisation; usable as a context manager."""

    def __init__(
        self,
        organization: Organization,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key_id: str = DEMO_KEY_ID,
        api_key_secret: str = DEMO_KEY_SECRET,
        faults: FaultPlan | None = None,
        page_delay_seconds: float = 0.0,
        update_rate_limit: int = 10,
        update_rate_window_seconds: float = 60.0,
        login_rate_limit: int = 10,
        login_rate_window_seconds: float = 10.0,
        retry_after_header: bool = True,
        extra_keys: dict[str, str] | None = None,
        forbidden_key_ids: set[str] | None = None,
        request_log_limit: int = 100_000,
        max_page_size: int = 1000,
    ) -> None:
        self.organization = organization
        self.api_key_id = api_key_id
        self.api_key_secret = api_key_secret
        self.page_delay_seconds = page_delay_seconds
        self.keys = KeyStore({api_key_id: api_key_secret, **(extra_keys or {})}, forbidden_key_ids)
        self.requests_log: list[RequestRecord] = []
        self.request_log_limit = request_log_limit
        self._faults = faults
        self._faults_lock = threading.Lock()
        self._log_lock = threading.Lock()
        self._httpd = _HTTPServer((host, port), self)
        self._thread: threading.Thread | None = None
        self.reporting = ReportingApi(organization, self.keys, max_page_size=max_page_size)
        self.cloud = CloudApi(
            organization,
            self.keys,
            lambda: self.base_url,
            update_limiter=SlidingWindowLimiter(update_rate_limit, update_rate_window_seconds),
            login_limiter=SlidingWindowLimiter(login_rate_limit, login_rate_window_seconds),
            retry_after_header=retry_after_header,
        )

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT`` of the listening socket."""
        host, port = self._httpd.server_address[:2]
        host = str(host)
        if host in ("0.0.0.0", "::"):
            host = "127.0.0.1" if host == "0.0.0.0" else "::1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{port}"

    @property
    def reporting_url(self) -> str:
        """Base URL of the Reporting API."""
        return self.base_url + REPORTING_PREFIX

    @property
    def cloud_url(self) -> str:
        """Base URL of the Cloud API (its paths start with ``/api/v1``)."""
        return self.base_url

    @property
    def updates(self) -> list[UpdateRecord]:
        """Every accepted incident update, oldest first."""
        return self.cloud.updates

    def start(self) -> None:
        """Serve in a daemon thread."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.name = f"soda-simulator-{self.base_url}"
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()
        self._httpd.drop_connections()

    def __enter__(self) -> SimulatorServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def faults(self) -> FaultPlan | None:
        """The fault plan in force."""
        with self._faults_lock:
            return self._faults

    def set_faults(self, plan: FaultPlan | None) -> None:
        """Swap the fault plan (None: no faults) for the requests that arrive from now on."""
        with self._faults_lock:
            self._faults = plan

    def clear_records(self) -> None:
        """Forget logged requests and updates, and reset the rate limits."""
        with self._log_lock:
            self.requests_log.clear()
        self.cloud.updates.clear()
        self.cloud.update_limiter.reset()
        self.cloud.login_limiter.reset()

    def _answer(self, request: Request) -> Reply:
        try:
            reply = self._route(request)
        except Exception:
            # A simulator bug must surface in the test output, but as an HTTP answer, not a dead socket.
            traceback.print_exc()
            return Reply(500, {"detail": "Internal Server Error"})
        if request.path in PAGINATED_PATHS and self.page_delay_seconds > 0:
            time.sleep(self.page_delay_seconds)
        return reply

    def _route(self, request: Request) -> Reply:
        if request.path == REPORTING_PREFIX or request.path.startswith(REPORTING_PREFIX + "/"):
            return self.reporting.handle(request)
        if request.path.startswith(CLOUD_PREFIX):
            return self.cloud.handle(request)
        return cloud_error(404, "not_found", f"No endpoint {request.method} {request.path}")

    def _serve(self, request: Request, handler: _Handler) -> None:
        plan = self.faults
        info = request_info(request)
        pre = plan.take(info, PRE_KINDS) if plan is not None else []
        delay(pre)
        terminal = next((rule for rule in pre if rule.kind in TERMINAL_KINDS), None)
        reply = terminal_reply(terminal, request) if terminal is not None else self._answer(request)
        if plan is not None and reply.page is not None and reply.status == 200:
            for rule in plan.take(info, DATA_KINDS):
                reshape_page(rule, reply.page)
        wire = damage(reply, plan.take(info, WIRE_KINDS) if plan is not None else [])
        self._record(request, wire.status)
        try:
            handler.send_wire(wire)
        except OSError:  # the client went away (for instance it timed out during a delay fault)
            handler.close_connection = True

    def _record(self, request: Request, status: int) -> None:
        record = RequestRecord(
            request.method, request.path, status, request.json, dict(request.headers), time.time()
        )
        with self._log_lock:
            self.requests_log.append(record)
            # A long-running demo must not grow without bound: drop the oldest tenth when full.
            if len(self.requests_log) > self.request_log_limit:
                del self.requests_log[: max(1, self.request_log_limit // 10)]

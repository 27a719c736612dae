"""The HTTP server: an asyncio event loop in its own thread, one h11 protocol per connection.

The sockets are bound when the server is built, so a bad address fails at start-up with the address
named; serving starts with ``start()``. Handlers run on the loop: they must be quick and never block
(the exporter's pages serve bytes rendered elsewhere).
"""

from __future__ import annotations

import asyncio
import errno
import threading
import time
from collections.abc import Sequence
from typing import Any

import structlog
from prometheus_client import CollectorRegistry, Counter

from exporter import __version__
from exporter.web.door import FrontDoor, OpenDoor
from exporter.web.http1 import Limits, Shared, protocol_factory
from exporter.web.listen import bind_all, format_address
from exporter.web.messages import Handler, Route

log = structlog.get_logger("exporter")

ACCEPT_FAILURE_REASONS = {
    errno.EMFILE: "process_open_files_limit",
    errno.ENFILE: "system_open_files_limit",
    errno.ENOBUFS: "out_of_memory",
    errno.ENOMEM: "out_of_memory",
}
# One log line per this many seconds while accepting keeps failing; the counter counts every failure.
ACCEPT_LOG_INTERVAL_SECONDS = 10.0
STOP_TIMEOUT_SECONDS = 1.0


class WebServer:
    """Serves routes on one or more addresses; each request passes the FrontDoor first."""

    def __init__(
        self,
        addresses: Sequence[tuple[str, int]],
        *,
        door: FrontDoor | None = None,
        limits: Limits | None = None,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.routes: dict[str, Route] = {}
        self.door: FrontDoor = door if door is not None else OpenDoor()
        self.limits = limits or Limits()
        self._sockets = bind_all(addresses)
        self.addresses: list[tuple[str, int]] = [
            (str(sock.getsockname()[0]), int(sock.getsockname()[1])) for sock in self._sockets
        ]
        self.accept_failures = Counter(
            "soda_exporter_http_accept_failures",
            "Connections the HTTP server could not accept, by reason (e.g. out of file descriptors).",
            ["reason"],
            registry=registry,
        )
        for reason in sorted(set(ACCEPT_FAILURE_REASONS.values())):
            self.accept_failures.labels(reason)
        self._shared = Shared(self.routes, self.door, self.limits, f"soda-incidents-exporter/{__version__}")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._servers: list[asyncio.AbstractServer] = []
        self._started = threading.Event()
        self._last_accept_log = 0.0
        self._unlogged_failures = 0

    @property
    def server_address(self) -> tuple[str, int]:
        """The first bound address (host, port); the port is the real one when 0 was asked for."""
        return self.addresses[0]

    @property
    def port(self) -> int:
        """The first bound port."""
        return self.addresses[0][1]

    def describe(self) -> list[str]:
        """The bound addresses as ``host:port`` text."""
        return [format_address(host, port) for host, port in self.addresses]

    def add_route(self, path: str, methods: frozenset[str], handler: Handler) -> None:
        """Serve ``path`` for ``methods`` (any other method gets 405, with Allow)."""
        self.routes[path] = Route(methods, handler)

    def start(self) -> None:
        """Serve in a background thread; returns once every address accepts."""
        loop = asyncio.new_event_loop()
        loop.set_exception_handler(self._loop_exception)
        self._loop = loop
        self._thread = threading.Thread(target=self._run, args=(loop,), name="http", daemon=True)
        self._thread.start()
        self._started.wait(10)

    def _run(self, loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        factory = protocol_factory(self._shared, loop)
        try:
            for sock in self._sockets:
                self._servers.append(loop.run_until_complete(loop.create_server(factory, sock=sock)))
        finally:
            self._started.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    def _loop_exception(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """Count and report accept failures (asyncio retries after a second); log anything else once."""
        exc = context.get("exception")
        if isinstance(exc, OSError) and exc.errno in ACCEPT_FAILURE_REASONS:
            reason = ACCEPT_FAILURE_REASONS[exc.errno]
            self.accept_failures.labels(reason).inc()
            self._unlogged_failures += 1
            now = time.monotonic()
            if now - self._last_accept_log >= ACCEPT_LOG_INTERVAL_SECONDS:
                self._last_accept_log = now
                log.error(
                    "cannot accept connections",
                    reason=reason,
                    error=str(exc),
                    failures=self._unlogged_failures,
                    hint="raise the open-files limit (ulimit -n) or find the clients holding connections",
                )
                self._unlogged_failures = 0
            return
        log.warning("HTTP server event loop error", message=context.get("message"), error=str(exc))

    def stop(self) -> None:
        """Stop accepting, drop every connection, end the loop; returns within about a second."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            self.close()
            return
        if loop.is_running():
            loop.call_soon_threadsafe(self._shutdown)
        thread.join(STOP_TIMEOUT_SECONDS)
        self.close()

    def _shutdown(self) -> None:
        for server in self._servers:
            server.close()
        for connection in list(self._shared.connections):
            connection.close()
        assert self._loop is not None
        # One more turn lets the aborted transports release their sockets before the loop ends.
        self._loop.call_soon(self._loop.stop)

    def close(self) -> None:
        """Close the listening sockets (when the server was never started, or after stop)."""
        for sock in self._sockets:
            sock.close()

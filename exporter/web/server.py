"""The HTTP server: asyncio event loops in their own threads, one h11 protocol per connection.

The sockets are bound when the server is built, so a bad address fails at start-up with the address
named; serving starts with ``start()``. The first loop accepts and deals connections to the loops in
turn (two loops by default, see DEFAULT_LOOPS). Handlers run on the loops: they must be quick and never
block (the exporter's pages serve bytes rendered elsewhere).
"""

from __future__ import annotations

import asyncio
import itertools
import socket
import threading
from collections.abc import Sequence
from typing import Any

import structlog
from prometheus_client import CollectorRegistry, Counter

from exporter.exposition import catalogue
from exporter.web.accept import ACCEPT_FAILURE_REASONS, Acceptor
from exporter.web.door import FrontDoor, OpenDoor
from exporter.web.http1 import HttpConnection
from exporter.web.limits import Limits
from exporter.web.listen import bind_all, format_address
from exporter.web.messages import Handler, Route
from exporter.web.shared import Shared

log = structlog.get_logger("exporter")

# Two loops: the kernel copies of two responses overlap on two cores, as the floor's threads do; on a
# quiet 2-core machine plain /metrics went from 0.79x to 1.02x the floor, TLS from 0.80x to 0.97x.
DEFAULT_LOOPS = 2
STOP_TIMEOUT_SECONDS = 1.0


class _Loop:
    """One event loop, its thread and its connections."""

    def __init__(self, index: int, shared: Shared) -> None:
        self.loop = asyncio.new_event_loop()
        self.loop.set_exception_handler(_loop_exception)
        self.shared = shared
        self.closing = False
        self.thread = threading.Thread(target=self._run, name=f"http-{index}", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._sweep)
        try:
            self.loop.run_forever()
        finally:
            # Connections still being set up when the server stopped: end them inside the loop.
            pending = asyncio.all_tasks(self.loop)
            for task in pending:
                task.cancel()
            if pending:
                self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self.loop.close()

    def _sweep(self) -> None:
        self.shared.sweep(self.loop.time())
        self.loop.call_later(self.shared.sweep_interval, self._sweep)

    def adopt(self, conn: socket.socket) -> None:
        """Serve an accepted socket on this loop (call on this loop)."""
        if self.closing:  # dealt by the accepting loop just as this one stops: nobody would serve it
            conn.close()
            return
        task = self.loop.create_task(
            self.loop.connect_accepted_socket(lambda: HttpConnection(self.shared, self.loop), conn)
        )
        task.add_done_callback(_drop_failed(conn))

    def shutdown(self) -> None:
        """Drop every connection and end the loop (call on this loop)."""
        self.closing = True
        for connection in list(self.shared.connections):
            connection.close()
        # One more turn lets the aborted transports release their sockets before the loop ends.
        self.loop.call_soon(self.loop.stop)


def _drop_failed(conn: socket.socket) -> Any:
    def done(task: asyncio.Task[Any]) -> None:
        if not task.cancelled() and task.exception() is not None:
            conn.close()

    return done


def _loop_exception(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """A connection's transport failed outside our code: log it without a traceback (rare)."""
    log.warning(
        "HTTP server event loop error", message=context.get("message"), error=str(context.get("exception"))
    )


class WebServer:
    """Serves routes on one or more addresses; each request passes the FrontDoor first."""

    def __init__(
        self,
        addresses: Sequence[tuple[str, int]],
        *,
        door: FrontDoor | None = None,
        limits: Limits | None = None,
        registry: CollectorRegistry | None = None,
        loops: int = DEFAULT_LOOPS,
    ) -> None:
        self.routes: dict[str, Route] = {}
        self.door: FrontDoor = door if door is not None else OpenDoor()
        self.limits = limits or Limits()
        self._sockets = bind_all(addresses)
        self.addresses: list[tuple[str, int]] = [
            (str(sock.getsockname()[0]), int(sock.getsockname()[1])) for sock in self._sockets
        ]
        spec = catalogue.HTTP_ACCEPT_FAILURES
        self.accept_failures = Counter(spec.base, spec.help, spec.label_names(), registry=registry)
        for reason in sorted({*ACCEPT_FAILURE_REASONS.values(), "other"}):
            self.accept_failures.labels(reason)
        self._loops = [_Loop(n, Shared(self.routes, self.door, self.limits)) for n in range(max(1, loops))]
        self._acceptor: Acceptor | None = None
        self._started = False

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
        """Serve in background threads; returns once the sockets are watched."""
        first = self._loops[0]
        turns = itertools.cycle(self._loops)

        def dispatch(conn: socket.socket) -> None:
            target = next(turns)
            if target is first:
                target.adopt(conn)
            else:
                target.loop.call_soon_threadsafe(target.adopt, conn)

        acceptor = self._acceptor = Acceptor(first.loop, self._sockets, dispatch, self.accept_failures)
        for worker in self._loops:
            worker.thread.start()
        ready = threading.Event()

        def begin() -> None:
            acceptor.start()
            ready.set()

        first.loop.call_soon_threadsafe(begin)
        ready.wait(10)
        self._started = True

    def stop(self) -> None:
        """Stop accepting, drop every connection, end the loops; returns within about a second."""
        if self._started:
            self._started = False
            acceptor = self._acceptor
            if acceptor is not None and self._loops[0].loop.is_running():
                self._loops[0].loop.call_soon_threadsafe(acceptor.stop)
            for worker in self._loops:
                if worker.loop.is_running():
                    worker.loop.call_soon_threadsafe(worker.shutdown)
            for worker in self._loops:
                worker.thread.join(STOP_TIMEOUT_SECONDS / len(self._loops))
        self.close()

    def close(self) -> None:
        """Close the listening sockets (when the server was never started, or after stop)."""
        for sock in self._sockets:
            sock.close()
        for worker in self._loops:
            if not worker.thread.is_alive() and not worker.loop.is_closed():
                worker.loop.close()

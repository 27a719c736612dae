"""Accepting connections on the first event loop and handing each to the next loop in turn.

Accepting here rather than through ``loop.create_server`` lets one listening socket feed several
loops, and puts running out of descriptors (EMFILE and kin) where it can be counted and logged.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import time
from collections.abc import Callable, Sequence

import structlog
from prometheus_client import Counter

log = structlog.get_logger("exporter")

ACCEPT_FAILURE_REASONS = {
    errno.EMFILE: "process_open_files_limit",
    errno.ENFILE: "system_open_files_limit",
    errno.ENOBUFS: "out_of_memory",
    errno.ENOMEM: "out_of_memory",
}
# While accepting fails for lack of resources, the socket is left alone this long (as asyncio does),
# and one log line is written per LOG_INTERVAL; the counter counts every failure.
RETRY_SECONDS = 1.0
LOG_INTERVAL_SECONDS = 10.0
# Connections taken per readiness event, so a flood of connects cannot starve the loop's other work.
ACCEPTS_PER_EVENT = 64

Dispatch = Callable[[socket.socket], None]


class Acceptor:
    """Watches listening sockets on one loop and passes every accepted socket to ``dispatch``."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sockets: Sequence[socket.socket],
        dispatch: Dispatch,
        failures: Counter,
    ) -> None:
        self.loop = loop
        self.sockets = list(sockets)
        self.dispatch = dispatch
        self.failures = failures
        self._last_log = 0.0
        self._unlogged = 0

    def start(self) -> None:
        """Begin accepting (call on the loop)."""
        for sock in self.sockets:
            self.loop.add_reader(sock.fileno(), self._accept, sock)

    def stop(self) -> None:
        """Stop accepting (call on the loop)."""
        for sock in self.sockets:
            if sock.fileno() >= 0:
                self.loop.remove_reader(sock.fileno())

    def _accept(self, sock: socket.socket) -> None:
        for _ in range(ACCEPTS_PER_EVENT):
            try:
                conn, _ = sock.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                return
            except OSError as exc:
                self._failed(sock, exc)
                return
            conn.setblocking(False)
            self.dispatch(conn)

    def _failed(self, sock: socket.socket, exc: OSError) -> None:
        reason = ACCEPT_FAILURE_REASONS.get(exc.errno or 0, "other")
        self.failures.labels(reason).inc()
        self._unlogged += 1
        # The kernel keeps reporting the socket readable: leave it for a while instead of spinning.
        self.loop.remove_reader(sock.fileno())
        self.loop.call_later(RETRY_SECONDS, self._resume, sock)
        now = time.monotonic()
        if now - self._last_log >= LOG_INTERVAL_SECONDS:
            self._last_log = now
            log.error(
                "cannot accept connections",
                reason=reason,
                error=str(exc),
                failures=self._unlogged,
                retry_seconds=RETRY_SECONDS,
                hint="raise the open-files limit (ulimit -n) or find the clients holding connections",
            )
            self._unlogged = 0

    def _resume(self, sock: socket.socket) -> None:
        if sock.fileno() >= 0:
            self.loop.add_reader(sock.fileno(), self._accept, sock)

"""One HTTP/1.1 connection as an asyncio protocol: its requests read, bounded, screened and answered.

Nothing here blocks. A connection costs a few kilobytes while it waits; its time in each phase is
bounded (see Limits). Requests are read by parser.py, only complete ones reach a handler, and the
response goes out through outbox.py a chunk at a time as the client takes it.
"""

from __future__ import annotations

import asyncio
import ssl
from http import HTTPStatus
from typing import Any

import h11
import structlog

from exporter.web.handshake import secure
from exporter.web.messages import Response, text
from exporter.web.outbox import Outbox
from exporter.web.parser import RequestParser
from exporter.web.screen import screen
from exporter.web.shared import Shared
from exporter.web.wire import BadHeader, Head, request_of, response_head

log = structlog.get_logger("exporter")


class HttpConnection(asyncio.Protocol):
    """One client connection, from accept (and TLS handshake) to close."""

    def __init__(self, shared: Shared, loop: asyncio.AbstractEventLoop) -> None:
        self.shared = shared
        self.loop = loop
        self.transport: Any = None
        self.parser = RequestParser(shared.limits.max_head_bytes, shared.heads)
        self.outbox = Outbox(loop, shared.limits.write_timeout, self._finished)
        # Deadlines on the loop's clock (0: none), checked by the loop's sweep (Shared.sweep): cheaper
        # than a timer handle armed and cancelled several times per request.
        self.read_deadline = 0.0
        self._reading_paused = False
        self._request_deadline = 0.0
        self._head: Head | None = None
        self._early: Response | None = None  # an answer decided from the head alone
        self._body: list[bytes] = []
        self._body_size = 0
        self._close_after = False
        self._idle = False  # waiting between requests of a kept-alive connection
        self._closing = False  # no more requests are read once the answer is out
        self._raw: Any = None  # under TLS, the TCP transport beneath it
        self._closed = False

    # --- connection life ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Start TLS when the door asks for it, then wait for the first request head."""
        self.transport = transport
        self.shared.connections.add(self)
        try:
            context = self.shared.door.tls_context()
        except Exception:  # the security layer's fault: refuse rather than serve without it
            log.exception("the web configuration gave no TLS context; connection refused")
            transport.abort()  # type: ignore[attr-defined]
            self._forget()
            return
        if context is None:
            self._ready(transport)
            return
        transport.pause_reading()  # type: ignore[attr-defined]
        self.loop.create_task(self._upgrade(transport, context))

    async def _upgrade(self, transport: Any, context: ssl.SSLContext) -> None:
        done = await secure(
            self.loop, transport, context, self.shared.door, self.shared.limits.read_header_timeout
        )
        if done is None or self._closed:
            self._forget()
            return
        tls, early = done
        self._raw = transport
        tls.set_protocol(self)
        self._ready(tls)
        for data in early.received:
            self.data_received(data)
        if early.eof:
            self.eof_received()

    def _ready(self, transport: Any) -> None:
        self.transport = transport
        self.outbox.attach(transport)
        self._request_deadline = self.loop.time() + self.shared.limits.read_timeout
        self._arm_read(self.shared.limits.read_header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        """Drop timers and queued bytes."""
        self._forget()

    def _forget(self) -> None:
        self._closed = True
        self.outbox.clear()
        self.read_deadline = 0.0
        self.shared.connections.discard(self)

    def close(self) -> None:
        """Close now, without waiting for queued bytes (the server is stopping)."""
        if self.transport is not None:
            self.transport.abort()
        self._forget()

    def _shut(self) -> None:
        """Close after the bytes already queued, and read nothing more."""
        self._closing = True
        if self.transport is None:
            return
        self.transport.close()
        if self._raw is not None and not self._raw.is_closing():
            # asyncio keeps the TCP connection until the client's close_notify (up to 30 s), so a
            # client waiting for our close would wait as long: ours is followed by a FIN at once,
            # and the connection is dropped if the client has not closed within the write bound.
            self._raw.write_eof()
            self._arm_read(self.shared.limits.write_timeout)

    def _arm_read(self, seconds: float) -> None:
        self.read_deadline = self.loop.time() + max(0.0, seconds)

    def read_timed_out(self) -> None:
        """Idle, head or body took too long: close (the client gets no answer it could still use)."""
        self.read_deadline = 0.0
        if self._closing and self._raw is not None:
            self.close()  # closed on our side, and the client never closed on its side
        elif not self.outbox.busy:
            self._shut()

    # --- reading -----------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        """Feed h11, and act on every event it completes."""
        if self._idle:
            # The first byte of the next request: from now its head and whole body are bounded.
            self._idle = False
            self._request_deadline = self.loop.time() + self.shared.limits.read_timeout
            self._arm_read(self.shared.limits.read_header_timeout)
        self.parser.feed(data)
        self._process()

    def eof_received(self) -> bool | None:
        """The client finished sending: answer what it sent (h11 reports the close after), then close."""
        self.parser.feed(b"")
        self._process()
        # Half-open, the transport stays up until the answer is out (TLS transports close regardless).
        return None if self._raw is not None else True

    def _process(self) -> None:
        while not self.outbox.busy and not self._closing and not self._closed:
            try:
                event = self.parser.next_event()
            except h11.RemoteProtocolError as exc:
                self._protocol_error(exc)
                return
            if event is None:
                return
            if isinstance(event, Head):
                self._on_head(event)
            elif isinstance(event, h11.Data):
                self._on_data(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                self._on_end()
            elif isinstance(event, h11.ConnectionClosed):
                self._shut()
                return

    def _protocol_error(self, exc: h11.RemoteProtocolError) -> None:
        # Reading stops once a request is answered, so the broken one has no answer yet.
        status = exc.error_status_hint if exc.error_status_hint >= 400 else 400
        self._respond(text(status, f"{HTTPStatus(status).phrase.lower()}\n", close=True))

    def _on_head(self, event: Head) -> None:
        self._head = event
        self._body, self._body_size = [], 0
        try:
            self._early = screen(event, self.shared)
        except Exception:  # e.g. the security layer failed: never serve past it
            log.exception("screening a request failed")
            self._early = text(HTTPStatus.INTERNAL_SERVER_ERROR, "internal server error\n", close=True)
        # The head is complete: what remains of the request's time bound is for its body.
        self._arm_read(self._request_deadline - self.loop.time())
        if self._early is not None and event.has_body:
            # Answer at once and close: the body will never be read, so no next request can follow.
            self._respond(self._early, close=True)
        elif self._early is None and self.parser.waiting_for_100_continue:
            self.transport.write(self.parser.continue_bytes())

    def _on_data(self, data: bytes) -> None:
        if self._early is not None:
            return
        self._body_size += len(data)
        if self._body_size > self.shared.limits.max_body_bytes:  # a chunked body past the limit
            self._respond(text(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "request body too large\n"), close=True)
            return
        self._body.append(data)

    def _on_end(self) -> None:
        self.read_deadline = 0.0
        head = self._head
        assert head is not None
        if self._early is not None:
            self._respond(self._early)
            return
        request = request_of(head, b"".join(self._body))
        self._body = []
        try:
            response = self.shared.routes[request.path].handler(request)
        except Exception:  # a handler's bug must not take the connection's loop with it
            log.exception("HTTP handler failed", path=request.path)
            response = text(HTTPStatus.INTERNAL_SERVER_ERROR, "internal server error\n")
        self._respond(response)

    # --- writing -----------------------------------------------------------------------------

    def _respond(self, response: Response, close: bool = False) -> None:
        request = self._head
        self._close_after = close or response.close or request is None or not request.keep_alive
        try:
            extra = self.shared.door.headers()
        except Exception:
            log.exception("the web configuration's headers failed")
            extra = ()
        parts = (
            () if request is not None and request.method == b"HEAD" else tuple(p for p in response.parts if p)
        )
        try:
            head = response_head(response, self.shared.date_line(), extra, close=self._close_after)
        except BadHeader as exc:
            log.error("a response was not sent: its head is malformed", error=str(exc))
            self._shut()
            return
        self.outbox.send(head, parts)
        if self.outbox.busy and not self._closing:
            # The client is slow to take the answer: its pipelined requests wait in the kernel, not
            # in our memory (pausing only now saves two system calls on every quick answer).
            self._reading_paused = True
            self.transport.pause_reading()

    def _finished(self) -> None:
        self._head = None
        self._early = None
        if self._close_after or not self.parser.complete:
            self._shut()
            return
        pending = self.parser.next_cycle()
        if self._reading_paused:
            self._reading_paused = False
            self.transport.resume_reading()
        if pending:
            # Pipelined bytes (or the client's close) already arrived; go on from the loop, not from
            # here, so a long pipeline cannot nest calls.
            self._request_deadline = self.loop.time() + self.shared.limits.read_timeout
            self._arm_read(self.shared.limits.read_header_timeout)
            self.loop.call_soon(self._process)
        else:
            self._idle = True
            self._arm_read(self.shared.limits.idle_timeout)

    def pause_writing(self) -> None:
        """The transport's buffer is full: stop handing it bytes, and watch for a client that stalls."""
        self.outbox.pause()

    def resume_writing(self) -> None:
        """The client took enough: go on."""
        self.outbox.resume()

    @property
    def write_deadline(self) -> float:
        """When the client must have taken more of the response (0: no bound running)."""
        return self.outbox.deadline

    def write_timed_out(self) -> None:
        """Disconnect a client that took no byte for write_timeout; give one that reads more time."""
        if self.outbox.stalled():
            self.close()

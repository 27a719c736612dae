"""A connection's request reading: h11 parses one request at a time, and bytes seen before skip it.

The response is written without h11 (see wire.py), so h11 cannot start a second cycle: each request
gets a fresh h11 connection fed what the previous one had not consumed. A chunk that arrives on a
fresh parser and is exactly a whole request without a body (nor credentials) is remembered per loop
(KnownHeads), and the same bytes again are that head and its end without parsing: scrapers repeat
themselves.
"""

from __future__ import annotations

import h11

from exporter.web.wire import Head, KnownHeads, head_of

# What next_event gives besides h11's own Data, EndOfMessage and ConnectionClosed.
Event = Head | h11.Data | h11.EndOfMessage | h11.ConnectionClosed | None
_END = h11.EndOfMessage()


class RequestParser:
    """The events of the requests on one connection, one request per cycle."""

    def __init__(self, max_head_bytes: int, known: KnownHeads) -> None:
        self.max_head_bytes = max_head_bytes
        self.known = known
        self._h11: h11.Connection | None = None  # made when first needed: a known request needs none
        self.complete = False  # the current request's end was read
        self._fresh = True  # the parser holds no byte yet
        self._chunk: bytes | None = None  # what arrived on a fresh parser, while it may be one whole request
        self._head: Head | None = None
        self._known: Head | None = None  # a known head found for the current cycle, not yet returned
        self._known_end = False  # its end is still to be returned

    @property
    def h11(self) -> h11.Connection:
        """The h11 connection reading the current request."""
        if self._h11 is None:
            self._h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=self.max_head_bytes)
        return self._h11

    def feed(self, data: bytes) -> None:
        """Bytes from the client (``b""``: it closed its side)."""
        if self._fresh and data:
            self._fresh = False
            self._known = self.known.get(data)
            if self._known is not None:
                return
            self._chunk = data
        else:
            self._fresh, self._chunk = False, None  # more of a request begun earlier: not one to remember
        self.h11.receive_data(data)

    def next_event(self) -> Event:
        """The next complete event (a Head for a request head), or None while more bytes are needed.

        Raises h11.RemoteProtocolError for a malformed request (its error_status_hint is the answer).
        """
        if self._known is not None:
            self._head, self._known, self._known_end = self._known, None, True
            return self._head
        if self._known_end:  # the end h11 found when it parsed those bytes
            self._known_end, self.complete = False, True
            return _END
        if self.complete:
            return None  # one request per cycle
        event = self.h11.next_event()
        if event is h11.NEED_DATA or event is h11.PAUSED:
            return None
        if isinstance(event, h11.Request):
            self._head = head_of(event)
            return self._head
        if isinstance(event, h11.Data):
            self._chunk = None
        elif isinstance(event, h11.EndOfMessage):
            self.complete = True
            head, chunk, self._chunk = self._head, self._chunk, None
            if chunk is not None and head is not None and not self.h11.trailing_data[0] and not head.has_body:
                self.known.add(chunk, head)  # the chunk was this whole request, nothing more
        return event  # type: ignore[return-value]  # Data, EndOfMessage or ConnectionClosed

    @property
    def waiting_for_100_continue(self) -> bool:
        """The client sent ``Expect: 100-continue`` and waits before sending the body."""
        return self._h11 is not None and self._h11.they_are_waiting_for_100_continue

    def continue_bytes(self) -> bytes:
        """The ``100 Continue`` interim response (h11 notes that the client need wait no more)."""
        return self.h11.send(h11.InformationalResponse(status_code=100, headers=[])) or b""

    def next_cycle(self) -> bool:
        """Start reading the next request; True when bytes of it (or the client's close) are here already."""
        data, closed = self._h11.trailing_data if self._h11 is not None else (b"", False)
        self._h11 = None
        if data:
            self.h11.receive_data(data)
        if closed:
            self.h11.receive_data(b"")
        self._fresh, self._chunk, self._head, self.complete = not (data or closed), None, None, False
        return bool(data or closed)

"""What the connections of one event loop share: routes, door, limits, their deadlines' sweep."""

from __future__ import annotations

import time
from email.utils import formatdate
from typing import Protocol

from exporter.web.door import FrontDoor
from exporter.web.limits import Limits
from exporter.web.messages import Route
from exporter.web.wire import KnownHeads


class Deadlines(Protocol):
    """A connection as its loop sees it: two deadlines on the loop's clock (0: none), and close."""

    read_deadline: float

    @property
    def write_deadline(self) -> float:
        """When its client must have taken more of the response (0: no bound running)."""

    def read_timed_out(self) -> None:
        """Its idle, head or body bound has passed."""

    def write_timed_out(self) -> None:
        """Its client has taken no byte of the response for the write bound."""

    def close(self) -> None:
        """End it now (the server is stopping)."""


class Shared:
    """What every connection of one server uses: routes, door, limits, and the set of open connections."""

    def __init__(self, routes: dict[str, Route], door: FrontDoor, limits: Limits) -> None:
        self.routes = routes
        self.door = door
        self.limits = limits
        self.connections: set[Deadlines] = set()
        self.heads = KnownHeads()
        self._date = (0, b"")
        bounds = (limits.read_header_timeout, limits.read_timeout, limits.idle_timeout, limits.write_timeout)
        # Bounds are kept to within a fifth of the shortest (and at most a second) past their time.
        self.sweep_interval = min(1.0, max(0.05, min(bounds) / 5))

    def sweep(self, now: float) -> None:
        """Act on every connection whose read or write deadline has passed."""
        for connection in list(self.connections):
            if connection.read_deadline and now >= connection.read_deadline:
                connection.read_timed_out()
            if connection.write_deadline and now >= connection.write_deadline:
                connection.write_timed_out()

    def date_line(self) -> bytes:
        """The Date header's line, formatted once a second."""
        now = int(time.time())
        if self._date[0] != now:
            self._date = (now, b"date: %s\r\n" % formatdate(now, usegmt=True).encode("ascii"))
        return self._date[1]

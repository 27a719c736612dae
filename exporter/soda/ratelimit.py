"""Thread-safe token buckets, one per API key, that keep incident updates within Soda's 10 per 60 seconds."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

# Soda Cloud API v1 documents POST /api/v1/incidents/{id} at 10 requests per 60 seconds.
UPDATE_LIMIT = 10
UPDATE_PERIOD_SECONDS = 60.0

# Blocking waits wake at least this often, so a stop request or a reset is noticed promptly.
_WAIT_SLICE_SECONDS = 0.25


class Ticket:
    """One spent token; it comes back to the bucket ``period`` seconds after it is settled."""

    __slots__ = ("returns_at",)

    def __init__(self) -> None:
        # In flight: the server has not necessarily counted the request yet, so the token stays out.
        self.returns_at = math.inf


class TokenBucket:
    """``capacity`` tokens; each spent token returns ``period`` seconds after its request finished.

    A bucket that refilled continuously (one token every period/capacity) would allow a burst of
    ``capacity`` followed by steady refills, up to almost twice the limit within one window. Soda
    counts requests in a sliding window, so each token is instead held for a whole period, measured
    from when the answer arrived: by then the server has certainly counted the request.
    """

    def __init__(
        self,
        capacity: int = UPDATE_LIMIT,
        period: float = UPDATE_PERIOD_SECONDS,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if capacity < 1 or period <= 0:
            raise ValueError("a token bucket needs capacity >= 1 and period > 0")
        self.capacity = capacity
        self.period = period
        self._clock = clock
        self._cond = threading.Condition()
        self._out: list[Ticket] = []
        self._blocked_until = -math.inf

    def _expire(self, now: float) -> None:
        self._out = [ticket for ticket in self._out if ticket.returns_at > now]

    def _try_take_locked(self) -> Ticket | float:
        now = self._clock()
        self._expire(now)
        if now < self._blocked_until:
            return self._blocked_until - now
        if len(self._out) < self.capacity:
            ticket = Ticket()
            self._out.append(ticket)
            return ticket
        # Every token is out; in-flight ones (inf) return one period after they settle.
        soonest = min(ticket.returns_at for ticket in self._out)
        return (soonest - now) if math.isfinite(soonest) else self.period

    def try_take(self) -> Ticket | float:
        """Take a token and return its ticket, or return the seconds until one may be free."""
        with self._cond:
            return self._try_take_locked()

    def take(self, stop: threading.Event | None = None, timeout: float | None = None) -> Ticket | None:
        """Block until a token is free and return its ticket; None once ``stop`` is set or on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while True:
                got = self._try_take_locked()
                if isinstance(got, Ticket):
                    return got
                if stop is not None and stop.is_set():
                    return None
                wait = min(got, _WAIT_SLICE_SECONDS)
                if deadline is not None:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return None
                    wait = min(wait, remaining)
                self._cond.wait(max(wait, 0.001))

    def settle(self, ticket: Ticket) -> None:
        """Mark the ticket's request as finished: its token returns one period from now."""
        with self._cond:
            ticket.returns_at = self._clock() + self.period
            self._cond.notify_all()

    def hold(self, seconds: float) -> None:
        """Hand out no token for ``seconds`` (Soda answered 429: its window is full, whoever filled it)."""
        with self._cond:
            self._blocked_until = max(self._blocked_until, self._clock() + max(0.0, seconds))

    def available(self) -> int:
        """Tokens free right now."""
        with self._cond:
            now = self._clock()
            self._expire(now)
            return 0 if now < self._blocked_until else self.capacity - len(self._out)

    def reset(self) -> None:
        """Return every token and lift any hold (tests, and re-configuration)."""
        with self._cond:
            self._out.clear()
            self._blocked_until = -math.inf
            self._cond.notify_all()


_BUCKETS: dict[str, TokenBucket] = {}
_BUCKETS_LOCK = threading.Lock()


def bucket_for(key_id: str) -> TokenBucket:
    """The bucket of one API key, shared by every client in the process that uses that key.

    Soda counts the limit per API key: organisations with their own keys must not wait for each
    other (a 429 on one holds only its own bucket), while clients sharing a key share its window.
    """
    with _BUCKETS_LOCK:
        bucket = _BUCKETS.get(key_id)
        if bucket is None:
            bucket = _BUCKETS[key_id] = TokenBucket()
        return bucket


def reset_buckets() -> None:
    """Return every token of every key's bucket and lift any hold (tests, and re-configuration)."""
    with _BUCKETS_LOCK:
        buckets = list(_BUCKETS.values())
    for bucket in buckets:
        bucket.reset()

"""The single retry owner for Soda requests: urllib3's Retry, observed and with a capped Retry-After."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any

from urllib3.connectionpool import ConnectionPool
from urllib3.response import BaseHTTPResponse
from urllib3.util.retry import Retry
from urllib3.util.timeout import Timeout

# Statuses that mean "try again later"; every other 4xx is final.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})

AttemptObserver = Callable[[str, str], None]
"""Called once per failed attempt that will be retried, with (url path, code or error kind)."""


class DeadlineReached(Exception):
    """The caller's deadline came before the next attempt could start (raised through urllib3)."""


# The deadline of the request this thread is sending: urllib3 runs every attempt, and every sleep
# between attempts, in the calling thread, while one Retry object is shared by the whole session.
_current = threading.local()


@contextmanager
def deadline_of_request(deadline: float | None) -> Iterator[None]:
    """Bound the retries and sleeps of requests sent by this thread inside the block by ``deadline``."""
    previous = getattr(_current, "deadline", None)
    _current.deadline = deadline
    _current.last_failure = None
    try:
        yield
    finally:
        _current.deadline = previous


def last_failure() -> Exception | BaseHTTPResponse | None:
    """The error or response of the last attempt this thread retried (None: none yet)."""
    failure: Exception | BaseHTTPResponse | None = getattr(_current, "last_failure", None)
    return failure


def _remaining() -> float | None:
    deadline: float | None = getattr(_current, "deadline", None)
    return None if deadline is None else deadline - time.monotonic()


class DeadlineTimeout(Timeout):
    """Connect and read timeouts of each attempt, capped by the time left before the deadline."""

    def __init__(self, connect: float, read: float, deadline: float) -> None:
        super().__init__(connect=connect, read=read)
        self.deadline = deadline

    def clone(self) -> Timeout:
        """A fresh Timeout for one attempt (urllib3 clones one per attempt); none left: DeadlineReached."""
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise DeadlineReached("no time left for another attempt")
        connect, read = self._connect, self._read
        return Timeout(
            connect=min(connect, remaining) if isinstance(connect, (int, float)) else remaining,
            read=min(read, remaining) if isinstance(read, (int, float)) else remaining,
        )


class ObservedRetry(Retry):
    """A urllib3 Retry that reports each retried attempt and caps how long Retry-After may make it wait."""

    def __init__(
        self,
        *args: Any,
        observer: AttemptObserver | None = None,
        max_retry_after: float = 30.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.observer = observer
        self.max_retry_after = max_retry_after

    def new(self, **kwargs: Any) -> ObservedRetry:
        """Copy this policy with updated counters, keeping the observer and the cap."""
        kwargs.setdefault("observer", self.observer)
        kwargs.setdefault("max_retry_after", self.max_retry_after)
        return super().new(**kwargs)

    def get_retry_after(self, response: Any) -> float | None:
        """Honour Retry-After (seconds or HTTP date), never beyond ``max_retry_after``."""
        value = super().get_retry_after(response)
        if value is None:
            return None
        return max(0.0, min(float(value), self.max_retry_after))

    def sleep(self, response: BaseHTTPResponse | None = None) -> None:
        """Wait before the next attempt, unless the wait would end past the request's deadline."""
        remaining = _remaining()
        if remaining is None:
            super().sleep(response)
            return
        wait = self.get_retry_after(response) if self.respect_retry_after_header and response else None
        if not wait:
            wait = self.get_backoff_time()
        if wait >= remaining:
            raise DeadlineReached(f"the next attempt would start {wait:.1f}s later, after the deadline")
        if wait > 0:
            time.sleep(wait)

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: BaseHTTPResponse | None = None,
        error: Exception | None = None,
        _pool: ConnectionPool | None = None,
        _stacktrace: TracebackType | None = None,
    ) -> ObservedRetry:
        """Let urllib3 decide whether another attempt is allowed, and report this one if so."""
        # What failed last, for the error message when the deadline then stops the retries.
        _current.last_failure = error if error is not None else response
        # When retries are exhausted this raises, and the caller counts the final outcome itself.
        retry = super().increment(method, url, response, error, _pool, _stacktrace)
        if self.observer is not None:
            if response is not None:
                code = str(response.status)
            elif error is not None:
                code = "timeout" if "timeout" in type(error).__name__.lower() else "connection_error"
            else:
                code = "error"
            self.observer(url or "", code)
        return retry


def build_retry(
    *,
    attempts: int,
    backoff_factor: float,
    backoff_max: float,
    max_retry_after: float,
    observer: AttemptObserver | None,
) -> ObservedRetry:
    """Build the retry policy: connection errors, timeouts, 429 and 500-504, with jittered backoff."""
    return ObservedRetry(
        total=attempts,
        connect=attempts,
        read=attempts,
        status=attempts,
        other=0,
        redirect=0,
        # Reporting API POSTs are read-only queries, so retrying them is safe.
        allowed_methods=None,
        status_forcelist=RETRY_STATUSES,
        backoff_factor=backoff_factor,
        backoff_max=backoff_max,
        backoff_jitter=backoff_factor,
        respect_retry_after_header=True,
        raise_on_status=False,
        observer=observer,
        max_retry_after=max_retry_after,
    )
